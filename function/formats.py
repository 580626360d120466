"""Patterns of well-known string formats, and the rule each stands for in error messages.

The XRD carries the pattern; the function's message names the rule instead of
repeating a regular expression (function/validation.py). RE2-compatible.
"""

from typing import Annotated

from pydantic import Field

from function.quantity import QUANTITY_PATTERN

_DOMAIN_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^[A-Za-z0-9._%+-]+@({_DOMAIN_LABEL}\.)+[A-Za-z]{{2,}}$"
# S3 bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html),
# without dots: a dotted name breaks virtual-hosted TLS.
S3_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"
# A Kubernetes object name that is also a DNS-1035 label (Services are named after it).
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# Kubernetes object names (DNS-1123 subdomain; also Gateway API's SectionName, as the
# HTTPRoute CRD of gateway-api v1.6.1 spells it for parentRefs) and namespaces (DNS-1123 label).
DNS_1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Storage URIs KServe's storage initializer reads (kserve/kserve python/storage).
STORAGE_URI_PATTERN = r"^(s3|gs|pvc|https?)://[^\s]+$"

# Durations, three formats for three readers:
# Go's (time.ParseDuration) in whole hours, minutes, seconds and milliseconds, any order,
# e.g. 10m or 1h30m: Helm's --timeout, external-secrets' refreshInterval.
GO_DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"
# Hours, minutes and seconds, each at most once and in that order (168h, 90m, 1h30m): a
# lifetime (the ttl parameter or annotation), as function/expiry/lifetime.py reads it.
HOURS_MINUTES_SECONDS_PATTERN = r"^([0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$"
# Gateway API's Duration (GEP-2257) as the HTTPRoute CRD of gateway-api v1.6.1 spells it:
# one to four numbers of at most five digits, each with its unit h, m, s or ms.
GATEWAY_API_DURATION_PATTERN = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"

GoDuration = Annotated[str, Field(pattern=GO_DURATION_PATTERN)]
# Longer is no duration such as these (and its digits would be more than int() reads).
HOURS_MINUTES_SECONDS_MAX = 20
HoursMinutesSeconds = Annotated[
    str, Field(pattern=HOURS_MINUTES_SECONDS_PATTERN, max_length=HOURS_MINUTES_SECONDS_MAX)
]
GatewayAPIDuration = Annotated[
    str,
    Field(
        pattern=GATEWAY_API_DURATION_PATTERN,
        description='A duration such as "10s", "1m30s" or "500ms" (Gateway API\'s format).',
    ),
]

PATTERN_RULES: dict[str, str] = {
    QUANTITY_PATTERN: "must be a Kubernetes quantity such as 4, 500m or 8Gi",
    EMAIL_PATTERN: "must be an email address",
    S3_BUCKET_PATTERN: "must be an S3 bucket name: 3 to 63 lowercase letters, digits and "
    "hyphens, starting and ending with a letter or digit",
    DNS_1035_LABEL: "must be lowercase letters, digits and hyphens, starting with a letter",
    DNS_1123_SUBDOMAIN: "must be lowercase letters, digits, hyphens and dots, starting and "
    "ending with a letter or digit",
    DNS_1123_LABEL: "must be lowercase letters, digits and hyphens, starting and ending with a "
    "letter or digit",
    STORAGE_URI_PATTERN: "must be a storage URI: s3://, gs://, pvc://, http:// or https://",
}
