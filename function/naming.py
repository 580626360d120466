"""Names of things the function creates, in one place.

Names are derived from the XR's namespace and name, so two XRs never collide:
not two instances of one environment (a name such as ``${environment}-db`` would),
not a PostgreSQLInstance and a RedisInstance both called ``app``, and not two
namespaces' databases on one shared server.
"""

import hashlib
import json
import re
from typing import Any

DNS_LABEL_MAX = 63
_HASH_LEN = 6  # in names cut to fit
CONTENT_HASH_LEN = 8  # in names that change with what they name


def short_hash(text: str, length: int = _HASH_LEN) -> str:
    """The first length hex digits of the SHA-256 of text."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def content_hash(obj: Any) -> str:
    """A short, stable hash of a JSON value, for objects named by their content.

    Immutable objects (Cluster API templates) get a new name when their
    content changes, so a change composes a new object instead of editing one.
    """
    return short_hash(json.dumps(obj, sort_keys=True, separators=(",", ":")), CONTENT_HASH_LEN)


def dns_label(*parts: str, limit: int = DNS_LABEL_MAX) -> str:
    """Join parts with '-' into a DNS label; if too long, cut and add a hash of the whole.

    The cut never ends in '-' or '.' (a name such as "a.-1b2c3d" is no valid name).
    """
    full = "-".join(p for p in parts if p)
    if len(full) <= limit:
        return full
    return f"{full[: limit - _HASH_LEN - 1].rstrip('-.')}-{short_hash(full)}"


def provider_config_name(existing: str | None, namespace: str, *parts: str) -> str:
    """The name of a namespaced ProviderConfig composed for one XR: existing (the observed
    one's, which core keeps whatever the desired name says: crossplane v2.3.4
    internal/controller/apiextensions/composite/composition_functions.go), else one that
    starts with the namespace. crossplane-runtime v2.0.0-rc.1, which provider-kubernetes
    v1.2.1 and provider-helm build with (pkg/reconciler/providerconfig/reconciler.go; fixed
    by v2.3.3), counts a namespaced ProviderConfig's usages by its name in every namespace,
    so two teams' XRs of one name would hold each other's ProviderConfig past deletion."""
    return existing or dns_label(namespace, *parts)


def service_label(name: str, *suffixes: str, limit: int = DNS_LABEL_MAX) -> str:
    """A name that Services are derived from (an RFC 1035 label: no dots), from an XR name.

    A chart or an operator names Services after it (<name>, <name>-rw, ...), and a
    Service name is an RFC 1035 label while an XR name may hold dots: they become '-'
    with a hash of the name, so a.b and a-b stay apart. Names without dots are unchanged.
    The name must start with a letter (starts_with_letter), which the caller checks.
    """
    label = name.replace(".", "-")
    if label != name:
        label = f"{label}-{short_hash(name)}"
    return dns_label(label, *suffixes, limit=limit)


def starts_with_letter(name: str) -> bool:
    """Whether names derived from name can be Service names (RFC 1035: a letter first)."""
    return bool(re.match(r"[a-z]", name))


def sql_identifier(*parts: str, limit: int = DNS_LABEL_MAX) -> str:
    """A PostgreSQL identifier (database or role name): lowercase, [a-z0-9_], <= 63 bytes.

    Kubernetes names have only [a-z0-9.-], so the mapping '-'/'.' -> '_' is
    made unique by a hash whenever it changed anything (a-b and a_b differ).
    """
    full = "_".join(parts)
    clean = re.sub(r"[^a-z0-9_]", "_", full.lower())
    if clean == full and len(clean) <= limit:
        return clean
    return f"{clean[: limit - _HASH_LEN - 1].rstrip('_')}_{short_hash(full)}"
