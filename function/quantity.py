"""Kubernetes resource quantities ("4", "500m", "8Gi"): the pattern and a parser.

The pattern is Kubernetes' own quantity grammar without a sign, and it also
refuses zero (the mantissa must have a non-zero digit), so "four", "8GB" and
"0" are rejected by the API server (XRD schema) and by the function alike.
RE2-compatible: no look-ahead.
"""

import math
from decimal import Decimal
from typing import Annotated

from pydantic import Field

_MANTISSA = r"([0-9]*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)"
_SUFFIX = r"([KMGTPE]i|[eE][+-]?[0-9]+|[numkMGTPE])"
QUANTITY_PATTERN = rf"^{_MANTISSA}{_SUFFIX}?$"

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=32)]


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


def whole_cpus(quantity: str) -> int:
    """CPU cores a virtual machine needs for a CPU quantity: rounded up, at least 1."""
    return max(1, math.ceil(parse(quantity)))
