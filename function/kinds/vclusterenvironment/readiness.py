"""When what a VClusterEnvironment composes is ready.

Helm releases when deployed, ProviderConfigs and Usages once they exist;
provider-kubernetes Objects by their Ready condition, which each Object's
readiness policy derives (the KnativeServing's own Ready, else applied).
"""

from function.blocks import helm, kubernetes, usage
from function.readiness import Readiness

READINESS = Readiness.of(helm.READINESS, kubernetes.READINESS, usage.READINESS)
