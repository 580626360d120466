"""When what an MLOpsPlatform composes is ready, where a Ready condition does not say.

- Profile (kubeflow/dashboard v2.0.0): its status has no Ready condition; the
  workspace is judged by the namespace it creates, which the composer waits for.
- Notebook (kubeflow/notebooks v1.11): ready once a notebook pod is ready,
  status.readyReplicas.
- TFJob (kubeflow/trainer v1.9): a job is doing its work once Running, done once
  Succeeded; Created, Restarting and Failed are not ready. Its phase is the newest
  of those conditions that is True (the operator keeps one True at a time).
- The notebook's workspace claim: ready once bound to a volume, status.phase Bound
  (Kubernetes core/v1 PersistentVolumeClaimStatus); with a WaitForFirstConsumer
  storage class that is once the notebook's pod is scheduled.
- InferenceService and the provider-upjet-aws resources: their Ready condition.
"""

from function.blocks import helm, usage
from function.observed import integer, objects, text
from function.readiness import Readiness, exists
from function.structs import JSON

TRAINING_PHASES = ("Created", "Running", "Restarting", "Succeeded", "Failed")


def notebook_ready(obj: JSON) -> bool:
    return integer(obj, "status", "readyReplicas", minimum=1) is not None


def training_phase(obj: JSON | None) -> str | None:
    """The TFJob's phase: the last True condition of the operator's job conditions."""
    phase = None
    for c in objects(obj, "status", "conditions"):
        kind = text(c, "type")
        if kind in TRAINING_PHASES and text(c, "status") == "True":
            phase = kind
    return phase


def claim_bound(obj: JSON) -> bool:
    return text(obj, "status", "phase") == "Bound"


def _training_ready(obj: JSON) -> bool:
    return training_phase(obj) in ("Running", "Succeeded")


READINESS = Readiness.of(
    helm.READINESS,
    usage.READINESS,
    {
        ("kubeflow.org", "Profile"): exists,
        ("kubeflow.org", "Notebook"): notebook_ready,
        ("kubeflow.org", "TFJob"): _training_ready,
        ("", "PersistentVolumeClaim"): claim_bound,
    },
)
