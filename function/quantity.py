"""Kubernetes resource quantities ("4", "500m", "8Gi"): the pattern and a parser.

The pattern is Kubernetes' own quantity grammar without a sign, and it also
refuses zero (the mantissa must have a non-zero digit), so "four", "8GB" and
"0" are rejected by the API server (XRD schema) and by the function alike.
RE2-compatible: no look-ahead.

Its exponent has at most two digits, and a value must be at most 2^63-1 (no
Kubernetes quantity may be larger: k8s.io/apimachinery pkg/api/resource/quantity.go),
so parsing costs the same whatever the value: "1e1000000" is refused, never
expanded into a million-digit number.
"""

import math
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

_MANTISSA = r"([0-9]*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)"
_SUFFIX = r"([KMGTPE]i|[eE][+-]?[0-9]{1,2}|[numkMGTPE])"
QUANTITY_PATTERN = rf"^{_MANTISSA}{_SUFFIX}?$"
QUANTITY_MAX = 2**63 - 1
# KubeVirt's domain.cpu.cores is an int32.
CORES_MAX = 2**31 - 1

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse(quantity: str) -> Decimal:
    """The value of a quantity that matches QUANTITY_PATTERN, as a Decimal."""
    if quantity[-2:] in _BINARY:
        return Decimal(quantity[:-2]) * (Decimal(1024) ** _BINARY[quantity[-2:]])
    # "1e3" is an exponent, "1E" is exa: an exponent always ends in a digit.
    exponent = quantity.rstrip("0123456789").rstrip("+-")
    if exponent[-1:] in ("e", "E") and exponent != quantity:
        return Decimal(quantity)
    if quantity[-1:] in _DECIMAL:
        return Decimal(quantity[:-1]) * (Decimal(10) ** _DECIMAL[quantity[-1]])
    return Decimal(quantity)


# The function's own bounds, not in the XRD: CEL's quantity() cannot see the first, as it
# caps what it parses at 2^63-1 (k8s.io/apimachinery pkg/api/resource/quantity.go).
QUANTITY_MAX_RULE = "must be at most 2^63-1 (the largest Kubernetes quantity)"
CORES_MAX_RULE = f"must be at most {CORES_MAX} (a virtual machine's cores are an int32)"


def _bounded(quantity: str) -> str:
    if parse(quantity) > QUANTITY_MAX:
        raise ValueError(QUANTITY_MAX_RULE)
    return quantity


def _fits_cores(quantity: str) -> str:
    if parse(quantity) > CORES_MAX:
        raise ValueError(CORES_MAX_RULE)
    return quantity


Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=32), AfterValidator(_bounded)]
# A CPU quantity that becomes a virtual machine's core count (whole_cpus).
CpuQuantity = Annotated[Quantity, AfterValidator(_fits_cores)]


def whole_cpus(quantity: str) -> int:
    """CPU cores a virtual machine needs for a CPU quantity: rounded up, at least 1."""
    return max(1, math.ceil(parse(quantity)))
