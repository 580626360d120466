"""MLOpsPlatform: a Kubeflow workspace with its bucket, credentials, Qdrant and workloads."""

from function.blocks import helm, kubernetes, usage
from function.kind import Kind
from function.kinds.mlopsplatform import compose as composer
from function.kinds.mlopsplatform import storage, workloads
from function.kinds.mlopsplatform.model import API, MLOpsPlatformParameters
from function.kinds.mlopsplatform.readiness import READINESS
from function.kinds.mlopsplatform.settings import MLOpsPlatformSettings

KIND = Kind[MLOpsPlatformParameters, MLOpsPlatformSettings](
    api=API,
    input_field="mlopsPlatform",
    settings=MLOpsPlatformSettings,
    compose=composer.compose,
    readiness=READINESS,
    crds=workloads.CRDS + storage.CRDS + helm.RELEASE_CRDS + kubernetes.OBJECT_CRDS + usage.CRDS,
    builtins=(
        ("", "secrets"),
        ("", "configmaps"),
        ("", "serviceaccounts"),
        ("", "persistentvolumeclaims"),
    ),
    requires=composer.REQUIRES,
)
