"""ResourceQuota admission as Kubernetes documents it, to judge what a composer asks for.

From kubernetes.io/docs/concepts/policy/resource-quotas/ (and the pod resource docs):
- The quota admission controller checks each pod and claim as it is created, and
  refuses one that would take the namespace's usage past a hard limit (403); those
  admitted before it stay, and hold what they requested.
- requests.cpu / requests.memory: the sum of the requests of the pods in a
  non-terminal state; requests.<extended resource> (requests.nvidia.com/gpu) likewise;
  requests.storage: the sum of the storage requests of the claims.
- A pod's request is the larger of the sum over its containers and the largest of its
  init containers (they run one at a time, before the others); for an extended
  resource a container without a request requests its limit.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from function.quantity import parse

JSON = dict[str, Any]
EXTENDED = ("nvidia.com/gpu",)


def _container_requests(container: JSON) -> dict[str, Decimal]:
    res = container.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    out = {k: parse(str(v)) for k, v in requests.items()}
    for name in EXTENDED:
        if name not in out and name in limits:
            out[name] = parse(str(limits[name]))
    return out


def pod_requests(pod_spec: JSON) -> dict[str, Decimal]:
    """What a pod requests of a quota: requests.<resource> -> amount."""
    total: dict[str, Decimal] = {}
    for c in pod_spec.get("containers") or []:
        for k, v in _container_requests(c).items():
            total[k] = total.get(k, Decimal(0)) + v
    for c in pod_spec.get("initContainers") or []:
        for k, v in _container_requests(c).items():
            total[k] = max(total.get(k, Decimal(0)), v)
    return {f"requests.{k}": v for k, v in total.items()}


def claim_requests(claim: JSON) -> dict[str, Decimal]:
    storage = claim["spec"]["resources"]["requests"]["storage"]
    return {"requests.storage": parse(str(storage))}


@dataclass
class Quota:
    """One namespace's ResourceQuota and what it has admitted."""

    hard: dict[str, Decimal]
    used: dict[str, Decimal] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, hard: JSON) -> "Quota":
        return cls({k: parse(str(v)) for k, v in hard.items()})

    def admit(self, what: str, requests: dict[str, Decimal]) -> bool:
        """Create one object: admitted, and counted, unless it takes a tracked resource past
        its hard limit."""
        for name, amount in requests.items():
            if name in self.hard and self.used.get(name, Decimal(0)) + amount > self.hard[name]:
                self.refused.append(what)
                return False
        for name, amount in requests.items():
            self.used[name] = self.used.get(name, Decimal(0)) + amount
        return True
