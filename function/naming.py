"""Names of things the function creates, in one place.

Names are derived from the XR's namespace and name, so two XRs never collide:
not two instances of one environment (the seed's ``${environment}-db`` did),
not a PostgreSQLInstance and a RedisInstance both called ``app``, and not two
namespaces' databases on one shared server.
"""

import hashlib
import re

DNS_LABEL_MAX = 63
_HASH_LEN = 6


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]


def dns_label(*parts: str, limit: int = DNS_LABEL_MAX) -> str:
    """Join parts with '-' into a DNS label; if too long, cut and add a hash of the whole."""
    full = "-".join(p for p in parts if p)
    if len(full) <= limit:
        return full
    return f"{full[: limit - _HASH_LEN - 1].rstrip('-')}-{_hash(full)}"


def sql_identifier(*parts: str, limit: int = DNS_LABEL_MAX) -> str:
    """A PostgreSQL identifier (database or role name): lowercase, [a-z0-9_], <= 63 bytes.

    Kubernetes names have only [a-z0-9.-], so the mapping '-'/'.' -> '_' is
    made unique by a hash whenever it changed anything (a-b and a_b differ).
    """
    full = "_".join(parts)
    clean = re.sub(r"[^a-z0-9_]", "_", full.lower())
    if clean == full and len(clean) <= limit:
        return clean
    return f"{clean[: limit - _HASH_LEN - 1].rstrip('_')}_{_hash(full)}"
