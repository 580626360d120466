"""A pod's admission under a namespace's LimitRange, as Kubernetes documents it, to judge
what a composer's pods become in a namespace with one.

From kubernetes.io/docs/concepts/policy/limit-range/ and the pod resource docs:
- A container that sets a limit but no request gets a request equal to the limit (the API
  server's defaulting, before admission).
- The LimitRange of type Container fills what is still missing: its `default` as the
  limit, its `defaultRequest` as the request. An unset `default` is its `max`, an unset
  `defaultRequest` its `default` (the LimitRange's own defaulting).
- It then checks each container: every request at least `min`, every limit at most `max`
  (a limit must be set where there is a max).
- A request above the limit makes the pod invalid, also when the limit came from the
  LimitRange's default: "Pod ... is invalid: spec.containers[0].resources.requests:
  Invalid value: "700m": must be less than or equal to cpu limit".
"""

from decimal import Decimal
from typing import Any

from function.quantity import parse

JSON = dict[str, Any]


def _item(limit_range: JSON) -> JSON:
    (item,) = [i for i in limit_range["spec"]["limits"] if i["type"] == "Container"]
    maximum = item.get("max") or {}
    default = {**maximum, **(item.get("default") or {})}
    return {
        "default": default,
        "defaultRequest": {**default, **(item.get("defaultRequest") or {})},
        "min": item.get("min") or {},
        "max": maximum,
    }


def admit_container(container: JSON, limit_range: JSON) -> tuple[JSON, list[str]]:
    """(requests, limits) after admission, and why the API server refuses the container."""
    item = _item(limit_range)
    res = container.get("resources") or {}
    limits = {k: parse(str(v)) for k, v in (res.get("limits") or {}).items()}
    requests = {k: parse(str(v)) for k, v in (res.get("requests") or {}).items()}
    requests = {**limits, **requests}
    for k, v in item["default"].items():
        limits.setdefault(k, parse(str(v)))
    for k, v in item["defaultRequest"].items():
        requests.setdefault(k, parse(str(v)))
    name = container.get("name")
    errors = []
    for k, v in item["min"].items():
        if k in requests and requests[k] < parse(str(v)):
            errors.append(f"{name}: {k} request below the minimum {v}")
    for k, v in item["max"].items():
        if k not in limits or limits[k] > parse(str(v)):
            errors.append(f"{name}: {k} limit missing or above the maximum {v}")
    for k, request in requests.items():
        if k in limits and request > limits[k]:
            errors.append(f"{name}: {k} request must be less than or equal to {k} limit")
    return {"requests": requests, "limits": limits}, errors


def admit(pod_spec: JSON, limit_range: JSON) -> tuple[dict[str, Decimal], list[str]]:
    """What the quota counts of the admitted pod (requests.<r> and limits.<r>: the larger of
    its containers' sum and its largest init container), and why it is refused."""
    usage: dict[str, Decimal] = {}
    errors: list[str] = []
    for side in ("requests", "limits"):
        for key in ("containers", "initContainers"):
            seen: dict[str, Decimal] = {}
            for c in pod_spec.get(key) or []:
                got, why = admit_container(c, limit_range)
                if side == "requests":
                    errors += why
                for k, v in got[side].items():
                    seen[k] = (
                        seen.get(k, Decimal(0)) + v
                        if key == "containers"
                        else max(seen.get(k, Decimal(0)), v)
                    )
            for k, v in seen.items():
                usage[f"{side}.{k}"] = max(usage.get(f"{side}.{k}", Decimal(0)), v)
    return usage, errors
