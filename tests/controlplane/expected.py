"""The example as oracle: what the cluster holds against each example's expected.yaml, the
crossplane CLI's render (harness/render.py), written apart from this run and from the
function's answers for the cluster's own state (cluster.agreement)."""

from __future__ import annotations

import base64
import re
from typing import Any

from harness.cases import JSON, Case
from harness.controlplane import REAL_PROVIDERS, ControlPlane
from tests.controlplane import cluster

# A credential's value: derived from the XR's uid (function/secrets.py stable_password),
# which the API server assigns, so the cluster's differs from the render's.
CREDENTIAL_KEY = re.compile(r"password|uri|token|secret|key", re.IGNORECASE)
# Of the XR's Synced and Ready conditions: what a Crossplane of the render's own writes too
# (not the times, nor the message naming composed objects by their generated names).
XR_CONDITION_KEYS = ("status", "reason")


def hashless(name: str) -> str:
    """A composition resource name less a content hash suffix (the content holds the
    namespace, and each case has one of its own)."""
    return re.sub(r"-[0-9a-f]{8}$", "", name)


def problems(plane: ControlPlane, case: Case, xr: JSON) -> list[str]:
    """Where the cluster differs from the example's expected.yaml: the same composed objects,
    each holding the render's content, and the XR's status.

    Left out, as the API server or this cluster sets them: metadata but labels and
    annotations (names are generated, uids and resourceVersions assigned), composed
    objects' status (the providers'), credentials' values (CREDENTIAL_KEY). The cluster's
    objects are read with the case's namespaces the example's again (cluster.restored:
    each stand-in is shaped so that the function's output for it is the example's with it,
    but for hash values, which are masked), the case's XR name and the cluster's composed
    names stand for the render's. The XR's status is compared only when no object of a
    real provider is composed: observed.yaml's statuses are the simulated providers', not
    provider-kubernetes'.
    """
    docs = [cluster.with_case_name(d, case) for d in case.optional_docs("expected.yaml")]
    want_xr = docs[0]
    want_objs = {
        hashless(d["metadata"]["annotations"][cluster.RESOURCE_NAME]): d
        for d in docs[1:]
        if cluster.RESOURCE_NAME in ((d.get("metadata") or {}).get("annotations") or {})
    }
    have = {hashless(k): as_example(v, case) for k, v in cluster.composed(plane, xr).items()}
    out = []
    if set(have) != set(want_objs):
        out.append(f"composed {sorted(have)}, expected.yaml {sorted(want_objs)}")
    swap = {
        d["metadata"]["name"]: have[k]["metadata"]["name"]
        for k, d in want_objs.items()
        if k in have and d["metadata"].get("name")
    }
    for key, want in sorted(want_objs.items()):
        obj = have.get(key)
        if obj is None:
            continue
        body = {k: v for k, v in cluster.as_stored(want).items() if k not in ("metadata", "status")}
        meta = want.get("metadata") or {}
        body["metadata"] = {k: dict(meta[k]) for k in ("labels", "annotations") if k in meta}
        # Matched by it above, less its hash.
        body["metadata"].get("annotations", {}).pop(cluster.RESOURCE_NAME, None)
        secret = want.get("kind") == "Secret" and want.get("apiVersion") == "v1"
        out += [f"{key}{p}" for p in _content(body, obj, swap, "", secret=secret)]
    real = any(o["apiVersion"].rpartition("/")[0] in REAL_PROVIDERS for o in have.values())
    # Without observed.yaml the render is of the first reconcile, when nothing composed
    # exists yet; the cluster's XR is past it (tests the Ready test makes instead).
    if case.optional("observed.yaml") and not real:
        status = {k: v for k, v in (want_xr.get("status") or {}).items() if k != "conditions"}
        have_status = cluster.restored(xr.get("status"), case)
        out += [f"XR status{p}" for p in _content(status, have_status, swap, "")]
        for c in (want_xr.get("status") or {}).get("conditions") or []:
            if c["type"] in ("Synced", "Ready"):
                want_c = {k: c[k] for k in XR_CONDITION_KEYS}
                got = cluster.condition(xr, c["type"])
                out += [f"XR {c['type']}{p}" for p in cluster.subset_problems(want_c, got)]
    return out


def as_example(obj: JSON, case: Case) -> JSON:
    """A composed object read with the example's namespaces (cluster.restored), a Secret's
    data too: each value that is text is restored as text (a host `<svc>.<ns>.svc`)."""
    out: JSON = cluster.restored(obj, case)
    if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1":
        data = {}
        for key, value in (obj.get("data") or {}).items():
            try:
                text = base64.b64decode(value).decode()
            except UnicodeDecodeError:
                data[key] = value
                continue
            data[key] = base64.b64encode(cluster.restored(text, case).encode()).decode()
        out["data"] = data
    return out


def _content(
    want: Any, have: Any, swap: dict[str, str], path: str, *, secret: bool = False
) -> list[str]:
    """cluster.subset_problems, where a string agrees once the render's composed names in
    it are the cluster's, and a Secret's credential values are not
    compared (only that the key is there)."""
    if isinstance(want, dict) and isinstance(have, dict):
        out = []
        for k, v in want.items():
            if secret and path in (".data", ".stringData") and CREDENTIAL_KEY.search(k):
                if k not in have:
                    out.append(f"{path}.{k}: missing")
                continue
            out += _content(v, have.get(k), swap, f"{path}.{k}", secret=secret)
        return out
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return [
            p
            for i, (w, h) in enumerate(zip(want, have, strict=True))
            for p in _content(w, h, swap, f"{path}[{i}]", secret=secret)
        ]
    if isinstance(want, str) and isinstance(have, str) and _swapped(want, swap) == have:
        return []
    if (
        isinstance(want, str)
        and isinstance(have, str)
        and _masked(want, swap) == _masked(have, {new: new for new in swap.values()})
    ):
        return []
    if secret and path.startswith(".data.") and isinstance(want, str) and isinstance(have, str):
        return _content(
            base64.b64decode(want).decode(errors="replace"),
            base64.b64decode(have).decode(errors="replace"),
            swap,
            path,
        )
    return cluster.subset_problems(want, have, path)


HASH = re.compile(r"(?<=[-_.])[0-9a-f]{6,12}(?![0-9a-z])")
UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _masked(text: str, swap: dict[str, str]) -> str:
    """text with what is derived from the case's identity masked: the first of each name of
    swap's keys in either spelling (a SQL identifier's underscores too), uids, and short hex
    hashes (a database name's hash of namespace and name, a bucket path's uid)."""
    for old in sorted(swap, key=len, reverse=True):
        for spelling in sorted({old, old.replace("-", "_")}):
            # The first only: a SQL name is <namespace>_<name>_<hash>, and the name may
            # start like the namespace (dev_dev_database_8cc669).
            text = text.replace(spelling, "<name>", 1)
    return HASH.sub("<hash>", UID.sub("<uid>", text))


def _swapped(text: str, swap: dict[str, str]) -> str:
    """text with each render name in swap (a composed name) as a whole token
    (not part of a longer name) replaced by the cluster's."""
    for old, new in sorted(swap.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![A-Za-z0-9-]){re.escape(old)}(?![A-Za-z0-9-])", new, text)
    return text
