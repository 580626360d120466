"""RunFunctionRequests built the way Crossplane builds them, for the tests and the benchmark.

From parts (`xr`, `request`: the unit tests) or from an example case (`case_request`:
the benchmark), through one builder.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.input import SETTINGS_REQUIREMENT
from function.structs import JSON, to_dict, to_struct
from harness.cases import Case, example_credentials, fold_string_data, identity, load_yaml_docs

PASSWORD_KEY = b"test-password-key"
RESOURCE_NAME = "crossplane.io/composition-resource-name"
INPUT_API_VERSION = "fn.platform.example.org/v1beta1"

Credentials = Mapping[str, Mapping[str, bytes]]
RunFunction = Callable[[fnv1.RunFunctionRequest], fnv1.RunFunctionResponse]


def build(
    composite: JSON,
    observed: Mapping[str, JSON],
    required: Mapping[str, Sequence[JSON]],
    input_: JSON | None,
    credentials: Credentials,
    *,
    connection_details: Mapping[str, Mapping[str, bytes]] | None = None,
) -> fnv1.RunFunctionRequest:
    """The one place a request's fields are written. The platform settings' requirement is
    answered (no EnvironmentConfig unless required names one), as for the steps this project
    generates, which ask for it up front."""
    req = fnv1.RunFunctionRequest()
    req.required_resources[SETTINGS_REQUIREMENT].SetInParent()
    req.observed.composite.resource.CopyFrom(to_struct(composite))
    for name, obj in observed.items():
        req.observed.resources[name].resource.CopyFrom(to_struct(obj))
    for name, details in (connection_details or {}).items():
        for key, value in details.items():
            req.observed.resources[name].connection_details[key] = value
    for name, objs in required.items():
        for obj in objs:
            req.required_resources[name].items.add().resource.CopyFrom(to_struct(obj))
    if input_ is not None:
        req.input.CopyFrom(to_struct(input_))
    for name, data in credentials.items():
        for key, value in data.items():
            req.credentials[name].credential_data.data[key] = value
    return req


# ---------------------------------------------------------------- from parts (unit tests)


def xr(
    api_version: str, kind: str, parameters: Any, name: str = "app", namespace: str = "team-a"
) -> JSON:
    """An XR with a uid derived from its name, so generated passwords are stable."""
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
    *,
    connection_details: dict[str, dict[str, bytes]] | None = None,
) -> fnv1.RunFunctionRequest:
    """A request for composite; settings is the Input's spec; default credentials: a test key."""
    input_ = None
    if settings is not None:
        input_ = {"apiVersion": INPUT_API_VERSION, "kind": "Input", "spec": settings}
    creds = {"platform": {"password-key": PASSWORD_KEY}} if credentials is None else credentials
    return build(
        composite,
        observed or {},
        required or {},
        input_,
        creds,
        connection_details=connection_details,
    )


def operation_request(
    spec: JSON, required: Mapping[str, Sequence[JSON]]
) -> fnv1.RunFunctionRequest:
    """What Crossplane sends an Operation's step: no observed composite, the Input's spec, the
    platform settings' requirement answered (no EnvironmentConfig) and the resources required."""
    req = fnv1.RunFunctionRequest()
    req.input.CopyFrom(to_struct({"apiVersion": INPUT_API_VERSION, "kind": "Input", "spec": spec}))
    req.required_resources[SETTINGS_REQUIREMENT].SetInParent()
    for name, objs in required.items():
        found = req.required_resources[name]
        found.SetInParent()
        for obj in objs:
            found.items.add().resource.CopyFrom(to_struct(obj))
    return req


def desired(rsp: fnv1.RunFunctionResponse) -> dict[str, JSON]:
    return {name: to_dict(r.resource) for name, r in rsp.desired.resources.items()}


def status(rsp: fnv1.RunFunctionResponse) -> JSON:
    return dict(to_dict(rsp.desired.composite.resource).get("status", {}))


def ready_condition(status_value: str = "True", synced: str = "True") -> JSON:
    """An observed status with Ready and Synced conditions, as a provider reports them."""
    return {
        "conditions": [
            {"type": "Ready", "status": status_value, "reason": "Available"},
            {"type": "Synced", "status": synced, "reason": "ReconcileSuccess"},
        ]
    }


def observed_secret(desired_secret: JSON) -> JSON:
    """The Secret as the API server returns it: stringData folded into base64 data."""
    return fold_string_data(desired_secret)


# ---------------------------------------------------------------- from an example case


def composition_step(case: Case) -> JSON:
    """The (first and only) pipeline step of the case's Composition."""
    step: JSON = case.composition_doc()["spec"]["pipeline"][0]
    return step


def observed_resources(case: Case) -> dict[str, JSON]:
    """observed.yaml keyed by each document's composition-resource-name annotation."""
    return {
        doc["metadata"]["annotations"][RESOURCE_NAME]: doc
        for doc in case.optional_docs("observed.yaml")
    }


def step_credentials(step: JSON, secrets: Iterable[JSON]) -> dict[str, dict[str, bytes]]:
    """Each of the step's Secret credentials, read from the Secret its secretRef names."""
    by_ref = {
        ((s.get("metadata") or {}).get("namespace"), (s.get("metadata") or {}).get("name")): s
        for s in secrets
        if s.get("kind") == "Secret"
    }
    out: dict[str, dict[str, bytes]] = {}
    for cred in step.get("credentials", []):
        ref = cred.get("secretRef") or {}
        secret = by_ref.get((ref.get("namespace"), ref.get("name")))
        if secret is not None:
            data = secret.get("data") or {}
            out[cred["name"]] = {k: base64.b64decode(v) for k, v in data.items()}
    return out


def connection_details(
    observed: Mapping[str, JSON], secrets: Iterable[JSON]
) -> dict[str, dict[str, bytes]]:
    """Each observed resource's connection details, read as Crossplane reads them.

    From the Secret its spec.writeConnectionSecretToRef names: in the resource's own
    namespace, else (a cluster-scoped resource) the namespace the reference gives
    (crossplane v2.3.4, internal/controller/apiextensions/composite/connection.go,
    SecretConnectionDetailsFetcher). `crossplane composition render` looks the Secret
    up among the objects it was given, so an example puts it in its required.yaml.
    """
    by_ref = {
        ((s.get("metadata") or {}).get("namespace", ""), (s.get("metadata") or {}).get("name")): s
        for s in secrets
        if s.get("apiVersion") == "v1" and s.get("kind") == "Secret"
    }
    out: dict[str, dict[str, bytes]] = {}
    for name, obj in observed.items():
        ref = (obj.get("spec") or {}).get("writeConnectionSecretToRef")
        if not isinstance(ref, dict):
            continue
        namespace = (obj.get("metadata") or {}).get("namespace") or ref.get("namespace", "")
        secret = by_ref.get((namespace, ref.get("name")))
        if secret is not None and secret.get("data"):
            out[name] = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    return out


def case_request(case: Case) -> fnv1.RunFunctionRequest:
    """The first request Crossplane sends for the case: only what the step asks for before
    it runs (its requirements, by name) is required, answered from required.yaml."""
    step = composition_step(case)
    observed = observed_resources(case)
    docs = case.optional_docs("required.yaml")
    up_front = {
        r["requirementName"]: [
            d for d in docs if identity(d) == (r["apiVersion"], r["kind"], r.get("name"))
        ]
        for r in (step.get("requirements") or {}).get("requiredResources", [])
    }
    return build(
        load_yaml_docs(case.xr)[0],
        observed,
        up_front,
        step.get("input"),
        step_credentials(step, example_credentials(case.root)),
        connection_details=connection_details(observed, case.optional_docs("required.yaml")),
    )


def selects(selector: fnv1.ResourceSelector, doc: JSON) -> bool:
    """Whether a selector the function returned names doc: by name, by labels (every label it
    asks for is on doc), or with neither every object of its kind (in its namespace), as
    Crossplane lists them."""
    meta = doc.get("metadata") or {}
    if selector.namespace and selector.namespace != meta.get("namespace", ""):
        return False
    if selector.HasField("match_labels"):
        labels = meta.get("labels") or {}
        wanted = selector.match_labels.labels
        kind = (doc.get("apiVersion"), doc.get("kind"))
        return kind == (selector.api_version, selector.kind) and all(
            labels.get(k) == v for k, v in wanted.items()
        )
    if selector.WhichOneof("match") is None:
        return identity(doc)[:2] == (selector.api_version, selector.kind)
    return identity(doc) == (selector.api_version, selector.kind, selector.match_name)


def answer_requirements(
    req: fnv1.RunFunctionRequest, requirements: fnv1.Requirements, docs: Sequence[JSON]
) -> None:
    """Fill req's required resources from docs, as Crossplane fetches what was asked for.

    A requirement nothing matches is answered with no items, as Crossplane does
    (crossplane v2.3.4 internal/xfn/required_resources.go: a resource not found is
    a nil entry, sent as an empty one), so a function can tell "not found" from
    "not asked yet".
    """
    for key, selector in requirements.resources.items():
        req.required_resources[key].SetInParent()
        for doc in docs:
            if selects(selector, doc):
                req.required_resources[key].items.add().resource.CopyFrom(to_struct(doc))


def answered_case_request(case: Case, run: RunFunction) -> fnv1.RunFunctionRequest:
    """case_request, with the resources the function asks for answered from required.yaml."""
    req = case_request(case)
    answer_requirements(req, run(req).requirements, case.optional_docs("required.yaml"))
    return req


class LocalCall:
    """A call served in this process (function.runner.ServedCall): no deadline, and no other
    thread to take calls while it waits."""

    def time_remaining(self) -> float | None:
        return None

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise RuntimeError(f"aborted: {code} {details}")

    def waiting(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()
