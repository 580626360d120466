"""Builders of real RunFunctionRequests for tests."""

import base64
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.structs import JSON, to_dict, to_struct

PASSWORD_KEY = b"test-password-key"
RESOURCE_NAME = "crossplane.io/composition-resource-name"


def xr(
    api_version: str, kind: str, parameters: Any, name: str = "app", namespace: str = "team-a"
) -> JSON:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "spec": {"parameters": parameters},
    }


def request(
    composite: JSON,
    observed: dict[str, JSON] | None = None,
    required: dict[str, list[JSON]] | None = None,
    settings: JSON | None = None,
    credentials: dict[str, dict[str, bytes]] | None = None,
) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest()
    req.observed.composite.resource.CopyFrom(to_struct(composite))
    for name, obj in (observed or {}).items():
        req.observed.resources[name].resource.CopyFrom(to_struct(obj))
    for name, objs in (required or {}).items():
        for obj in objs:
            req.required_resources[name].items.add().resource.CopyFrom(to_struct(obj))
    if settings is not None:
        req.input.CopyFrom(
            to_struct(
                {"apiVersion": "fn.platform.example.org/v1beta1", "kind": "Input", "spec": settings}
            )
        )
    creds = {"platform": {"password-key": PASSWORD_KEY}} if credentials is None else credentials
    for name, data in creds.items():
        for key, value in data.items():
            req.credentials[name].credential_data.data[key] = value
    return req


def desired(rsp: fnv1.RunFunctionResponse) -> dict[str, JSON]:
    return {name: to_dict(r.resource) for name, r in rsp.desired.resources.items()}


def status(rsp: fnv1.RunFunctionResponse) -> JSON:
    return dict(to_dict(rsp.desired.composite.resource).get("status", {}))


def ready_condition(status_value: str = "True", synced: str = "True") -> JSON:
    return {
        "conditions": [
            {"type": "Ready", "status": status_value, "reason": "Available"},
            {"type": "Synced", "status": synced, "reason": "ReconcileSuccess"},
        ]
    }


def observed_secret(desired_secret: JSON) -> JSON:
    """The Secret as the API server returns it: stringData folded into base64 data."""
    out = {k: v for k, v in desired_secret.items() if k != "stringData"}
    out["data"] = {
        k: base64.b64encode(v.encode()).decode() for k, v in desired_secret["stringData"].items()
    }
    return out
