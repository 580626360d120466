"""The composite kinds this function serves: one line per kind (function/kinds/<kind>/)."""

from typing import Any

from function.kind import Kind
from function.kinds import (
    kubernetescluster,
    mlops,
    postgresql,
    redis,
    serviceingress,
    vclusterenvironment,
)

CATALOGUE: tuple[Kind[Any, Any], ...] = (
    postgresql.KIND,
    redis.KIND,
    kubernetescluster.KIND,
    vclusterenvironment.KIND,
    serviceingress.KIND,
    mlops.KIND,
)

_BY_TYPE = {(k.api.api_version, k.api.kind): k for k in CATALOGUE}


def lookup(api_version: str, kind: str) -> Kind[Any, Any] | None:
    """The kind serving XRs of this apiVersion and kind."""
    return _BY_TYPE.get((api_version, kind))
