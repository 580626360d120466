"""What Crossplane installs for the catalogue, from the models: XRDs, Compositions, the
function's input CRD, and the ClusterRole aggregated into Crossplane's.

generate/output.py writes them (xrds/, compositions/, package/input/, install/).
"""

from typing import Any

import yaml

from function import catalogue
from function.input import SETTINGS_REQUIREMENT, SETTINGS_SELECTOR, function_input
from function.model import API_VERSION, CompositeAPI
from function.settings import INPUT_GROUP, INPUT_KIND, INPUT_VERSION
from function.structs import api_group
from generate.release import FUNCTION, Release
from generate.schema import openapi

# The Secret every step reads its credentials from (install/kustomization.yaml makes it).
CREDENTIALS_NAMESPACE, CREDENTIALS_SECRET = "crossplane-system", FUNCTION


def xrd(api: CompositeAPI[Any]) -> dict[str, Any]:
    """The CompositeResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.crossplane.io/v2",
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": api.xrd_name},
        "spec": {
            "scope": api.scope,
            "group": api.group,
            "names": {
                "kind": api.kind,
                "plural": api.plural,
                "singular": api.kind.lower(),
                "categories": list(api.categories),
            },
            "defaultCompositionRef": {"name": composition_name(api)},
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "referenceable": True,
                    "additionalPrinterColumns": [
                        {"name": c.name, "type": c.type, "jsonPath": c.json_path}
                        for c in api.printer_columns
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "description": api.description,
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"parameters": openapi(api.parameters)},
                                    "required": ["parameters"],
                                },
                                "status": openapi(api.status),
                            },
                        }
                    },
                }
            ],
        },
    }


def input_crd() -> dict[str, Any]:
    """The CRD of the function's input (the Composition step's input)."""
    plural = INPUT_KIND.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{INPUT_GROUP}"},
        "spec": {
            "group": INPUT_GROUP,
            "names": {"kind": INPUT_KIND, "plural": plural, "singular": INPUT_KIND.lower()},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": INPUT_VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "description": "Platform settings of function-platform, given as "
                            "the input of a Composition pipeline step.",
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": openapi(function_input()) | {"default": {}},
                            },
                        }
                    },
                }
            ],
        },
    }


def function_input_object(spec: dict[str, Any]) -> dict[str, Any]:
    """A pipeline step's input: the function's Input with this spec."""
    return {"apiVersion": f"{INPUT_GROUP}/{INPUT_VERSION}", "kind": INPUT_KIND, "spec": spec}


def composition_name(api: CompositeAPI[Any]) -> str:
    return f"{api.plural}.{api.group}"


def settings_required_resource() -> dict[str, Any]:
    """The platform settings' EnvironmentConfig as a step asks for it before it runs
    (function/input.py reads it)."""
    sel = SETTINGS_SELECTOR
    return {
        "requirementName": SETTINGS_REQUIREMENT,
        "apiVersion": sel.api_version,
        "kind": sel.kind,
        "name": sel.name,
    }


def settings_requirement() -> dict[str, Any]:
    """A Composition step's requirements: the platform settings."""
    return {"requiredResources": [settings_required_resource()]}


def credentials() -> list[dict[str, Any]]:
    """A pipeline step's credentials: the step's Secret (install/kustomization.yaml)."""
    ref = {"namespace": CREDENTIALS_NAMESPACE, "name": CREDENTIALS_SECRET}
    return [{"name": "platform", "source": "Secret", "secretRef": ref}]


def composition(api: CompositeAPI[Any], function: str) -> dict[str, Any]:
    """The Composition running the Function object `function` for one kind: its settings
    from the cluster's EnvironmentConfig, the step's input left empty to override them per
    Composition."""
    return {
        "apiVersion": "apiextensions.crossplane.io/v1",
        "kind": "Composition",
        "metadata": {
            "name": composition_name(api),
            "labels": {"platform.example.org/kind": api.kind},
        },
        "spec": {
            "compositeTypeRef": {"apiVersion": api.api_version, "kind": api.kind},
            "mode": "Pipeline",
            "pipeline": [
                {
                    "step": "compose",
                    "functionRef": {"name": function},
                    "input": function_input_object({}),
                    "credentials": credentials(),
                    "requirements": settings_requirement(),
                }
            ],
        },
    }


AGGREGATE_LABEL = "rbac.crossplane.io/aggregate-to-crossplane"
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
READ_VERBS = ["get", "list", "watch"]


def rbac() -> dict[str, Any]:
    """A ClusterRole aggregated into Crossplane's: what every kind composes, what its
    composer may require (read only), and what it grants.

    Crossplane's own ClusterRole covers its groups and a few core kinds; the
    composed CloudNativePG, Cluster API, provider-sql, ... objects need this, and
    so does every kind a composer asks Crossplane to fetch (a Namespace, another
    XR's Bucket): core fetches required resources with its own rights, and a
    Forbidden fails the whole pipeline.
    """
    resources: dict[str, set[str]] = {}
    for kind in catalogue.kinds():
        for group, plural in kind.resources():
            resources.setdefault(group, set()).add(plural)
    read: dict[str, set[str]] = {}
    for kind in catalogue.kinds():
        for required in kind.requires:
            group = api_group(required.api_version)
            if required.plural not in resources.get(group, set()):
                read.setdefault(group, set()).add(required.plural)
    rules: list[dict[str, Any]] = [
        {"apiGroups": [group], "resources": sorted(plurals), "verbs": list(VERBS)}
        for group, plurals in sorted(resources.items())
    ]
    rules += [
        {"apiGroups": [group], "resources": sorted(plurals), "verbs": list(READ_VERBS)}
        for group, plurals in sorted(read.items())
    ]
    granted = sorted(
        {
            yaml.safe_dump(rule, sort_keys=True)
            for kind in catalogue.kinds()
            for rule in kind.granted
        }
    )
    rules += [yaml.safe_load(rule) for rule in granted]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": f"crossplane:{FUNCTION}:composed",
            "labels": {AGGREGATE_LABEL: "true"},
        },
        "rules": rules,
    }


def render_function(release: Release) -> dict[str, Any]:
    """examples/functions.yaml: the Function the Compositions call, for `crossplane composition
    render`, as a Development runtime at a target harness/render.py rewrites."""
    return {
        "apiVersion": "pkg.crossplane.io/v1",
        "kind": "Function",
        "metadata": {
            "name": release.function_name,
            "annotations": {
                "render.crossplane.io/runtime": "Development",
                "render.crossplane.io/runtime-development-target": "127.0.0.1:9443",
            },
        },
        "spec": {"package": release.reference(FUNCTION)},
    }
