"""MLOpsPlatform: a Kubeflow workspace with its bucket, credentials, Qdrant and workloads."""

from function.blocks import helm, usage
from function.kind import Kind
from function.kinds.mlops import compose as composer
from function.kinds.mlops import storage, workloads
from function.kinds.mlops.model import API, MLOpsPlatformParameters
from function.kinds.mlops.readiness import READINESS
from function.kinds.mlops.settings import MLOpsPlatformSettings

KIND = Kind[MLOpsPlatformParameters, MLOpsPlatformSettings](
    api=API,
    input_field="mlopsPlatform",
    settings=MLOpsPlatformSettings,
    compose=composer.compose,
    readiness=READINESS,
    crds=workloads.CRDS + storage.CRDS + helm.RELEASE_CRDS + usage.CRDS,
    builtins=(("", "secrets"), ("", "configmaps"), ("", "serviceaccounts")),
)
