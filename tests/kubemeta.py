"""Object metadata as the Kubernetes API server validates it, for the fuzzing oracle.

Written from k8s.io/apimachinery, not from the function's own patterns:
- pkg/util/validation/validation.go: IsDNS1123Subdomain (at most 253), IsDNS1123Label
  (at most 63), IsDNS1035Label, IsQualifiedName (an optional DNS-1123 subdomain prefix
  and '/', then a name of at most 63 matching qualifiedNameFmt), IsValidLabelValue (at
  most 63, empty or matching labelValueFmt);
- pkg/api/validation/objectmeta.go: ValidateObjectMeta (namespace a DNS-1123 label,
  generateName a name prefix), ValidateAnnotations (keys are qualified names once
  lower-cased; keys and values together at most TotalAnnotationSizeLimitB = 256 KiB),
  metav1validation.ValidateLabels (qualified-name keys, label values).
A custom resource's name is a DNS-1123 subdomain (apiextensions-apiserver,
customresource_handler.go); among built-in kinds a Namespace's is a DNS-1123 label and a
Service's a DNS-1035 label (pkg/apis/core/validation), the rest subdomains. Fields of
ObjectMeta outside metav1.ObjectMeta are dropped by the API server, so they are errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
ANNOTATIONS_MAX_BYTES = 256 * (1 << 10)

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(_LABEL)
DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
DNS1035_LABEL = re.compile("[a-z]([-a-z0-9]*[a-z0-9])?")
QUALIFIED_NAME = re.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

# metav1.ObjectMeta's JSON fields (k8s.io/apimachinery/pkg/apis/meta/v1/types.go).
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
# Built-in kinds whose names follow another rule than a DNS-1123 subdomain.
_NAME_RULES = {
    ("", "Namespace"): ("a DNS-1123 label", DNS1123_LABEL, DNS1123_LABEL_MAX),
    ("", "Service"): ("a DNS-1035 label", DNS1035_LABEL, DNS1123_LABEL_MAX),
}
_SUBDOMAIN_RULE = ("a DNS-1123 subdomain", DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_MAX)


def qualified_name_errors(value: str) -> list[str]:
    """IsQualifiedName: [prefix/]name."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["a qualified name has at most one '/'"]
    name = parts[-1]
    out = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            out.append("the prefix before '/' must not be empty")
        elif len(prefix) > DNS1123_SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.fullmatch(prefix):
            out.append(
                f"the prefix must be a DNS-1123 subdomain of at most {DNS1123_SUBDOMAIN_MAX}"
            )
    if not name:
        out.append("the name part must not be empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        out.append(f"the name part must be at most {QUALIFIED_NAME_MAX} characters")
    elif not QUALIFIED_NAME.fullmatch(name):
        out.append("the name part must be alphanumerics, '-', '_' or '.', alphanumeric at the ends")
    return out


def label_value_errors(value: Any) -> list[str]:
    """IsValidLabelValue (a label's value must be a string)."""
    if not isinstance(value, str):
        return [f"must be a string (got {type(value).__name__})"]
    if len(value) > LABEL_VALUE_MAX:
        return [f"must be at most {LABEL_VALUE_MAX} characters"]
    if not LABEL_VALUE.fullmatch(value):
        return ["must be empty or alphanumerics, '-', '_' or '.', alphanumeric at the ends"]
    return []


def labels_errors(where: str, labels: Any) -> list[str]:
    if not isinstance(labels, dict):
        return [f"{where}: must be a map of strings"]
    out = []
    for key, value in labels.items():
        out += [f"{where} key {key[:80]!r}: {e}" for e in qualified_name_errors(key)]
        out += [f"{where}[{key[:80]!r}] value: {e}" for e in label_value_errors(value)]
    return out


def annotations_errors(where: str, annotations: Any) -> list[str]:
    if not isinstance(annotations, dict):
        return [f"{where}: must be a map of strings"]
    out = []
    size = 0
    for key, value in annotations.items():
        out += [f"{where} key {key[:80]!r}: {e}" for e in qualified_name_errors(key.lower())]
        if not isinstance(value, str):
            out.append(f"{where}[{key[:80]!r}]: must be a string")
            continue
        size += len(key.encode()) + len(value.encode())
    if size > ANNOTATIONS_MAX_BYTES:
        out.append(f"{where}: {size} bytes in all, at most {ANNOTATIONS_MAX_BYTES}")
    return out


def _name_errors(where: str, name: Any, rule: tuple[str, re.Pattern[str], int]) -> list[str]:
    what, pattern, limit = rule
    if not isinstance(name, str):
        return [f"{where}: must be a string"]
    if len(name) > limit or not pattern.fullmatch(name):
        return [f"{where} {name[:80]!r}: must be {what} of at most {limit} characters"]
    return []


def metadata_errors(where: str, meta: Any, group_kind: tuple[str, str] | None) -> list[str]:
    """Errors of one object's metadata; group_kind None: a template's (a subdomain name)."""
    if not isinstance(meta, dict):
        return [f"{where}: must be an object"]
    out = [
        f"{where}.{k[:80]}: not a field of ObjectMeta" for k in meta if k not in OBJECT_META_FIELDS
    ]
    rule = _NAME_RULES.get(group_kind or ("", ""), _SUBDOMAIN_RULE)
    if "name" in meta:
        out += _name_errors(f"{where}.name", meta["name"], rule)
    if "generateName" in meta:
        # A prefix, checked as a name with a trailing '-' masked (apimachinery's
        # maskTrailingDash).
        prefix = meta["generateName"]
        if isinstance(prefix, str) and len(prefix) > 1 and prefix.endswith("-"):
            prefix = f"{prefix[:-1]}a"
        out += _name_errors(f"{where}.generateName", prefix, rule)
    if "namespace" in meta:
        label = ("a DNS-1123 label", DNS1123_LABEL, DNS1123_LABEL_MAX)
        out += _name_errors(f"{where}.namespace", meta["namespace"], label)
    if "labels" in meta:
        out += labels_errors(f"{where}.labels", meta["labels"])
    if "annotations" in meta:
        out += annotations_errors(f"{where}.annotations", meta["annotations"])
    return out


def _group_kind(obj: dict[str, Any]) -> tuple[str, str]:
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0]
    return group, str(obj.get("kind", ""))


def _nested(obj: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, metadata, owner) of every object metadata below obj, and every matchLabels."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            here = f"{path}.{key}"
            if key == "metadata" and isinstance(value, dict):
                yield here, value, obj
            elif key == "matchLabels":
                yield here, {"labels": value}, None
            else:
                yield from _nested(value, here)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _nested(value, f"{path}[{i}]")


def object_errors(source: str, obj: dict[str, Any]) -> list[str]:
    """Errors of a composed object's metadata and of every metadata it embeds.

    An embedded object with apiVersion and kind (provider-kubernetes' manifest) gets its
    kind's name rule; any other embedded metadata (a pod template's, a volume claim
    template's) the generic one. Chart values (a Release's spec.forProvider.values) are
    the chart's to interpret and are not read.
    """
    out = metadata_errors(f"{source}: metadata", obj.get("metadata", {}), _group_kind(obj))
    spec = obj.get("spec")
    if _group_kind(obj) == ("helm.m.crossplane.io", "Release") and isinstance(spec, dict):
        spec = {k: v for k, v in spec.items() if k != "forProvider"}
    for path, meta, owner in _nested(spec, f"{source}: spec"):
        embedded = isinstance(owner, dict) and "apiVersion" in owner and "kind" in owner
        out += metadata_errors(path, meta, _group_kind(owner) if embedded else None)
    return out
