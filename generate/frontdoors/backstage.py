"""A Backstage Software Template per kind: a form from the model, a pull request with the XR.

The template follows scaffolder.backstage.io/v1beta3 as Backstage documents it
(docs/features/software-templates/writing-templates.md) and the input schemas of the built-in
actions it uses (@backstage/plugin-scaffolder-backend: fetch:template, catalog:write,
catalog:register; @backstage/plugin-scaffolder-backend-module-github:
publish:github:pull-request). A team's request lands in one folder of its GitOps
repository, `<folder>/<namespace>/<name>/`, reviewed like any change:

- `<name>.yaml`, the XR, rendered by fetch:template from a skeleton generated from the
  kind's schema. The scaffolder's templating has no YAML filter (its filters are
  parseRepoUrl, parseEntityRef, pick and projectSlug beside nunjucks' own), so the skeleton
  spells the YAML structure out and writes every value with `dump`: a number or a boolean as
  itself, a string always double-quoted (a JSON string is a YAML double-quoted scalar), so no
  YAML reader, 1.1 or 1.2, takes "8", "yes" or "1.0" for anything but a string, and nothing
  typed is read as YAML syntax. Rendered values are not rendered again, so nothing typed is
  read as a template either.
- `catalog-info.yaml`, a Resource entity for the XR owned by the team picked in the form,
  written by catalog:write.

Then the pull request is opened and the catalog entry registered with catalog:register at
its path on the target branch. The file is there only once the pull request is merged: the
catalog stores the location at once and reads it on every refresh (plugin-catalog-backend's
DefaultLocationService), so `optional: true` lets the step pass the read that fails before
the merge, and the template's output says so.
"""

from typing import Any

from function.kind import AnyKind
from function.model import DOMAIN, CompositeAPI
from generate.frontdoors.forms import form_schema, kind_title
from generate.frontdoors.settings import BackstageSettings
from generate.schema import Schema

# RFC 1123 label starting with a letter: every kind's resources are named after the XR.
NAME = {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
# A folder of the repository: relative, no "." or ".." segment.
FOLDER = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_][-A-Za-z0-9._]*(/[A-Za-z0-9_][-A-Za-z0-9._]*)*$",
    "maxLength": 200,
}
SKELETON_FILE = "${{values.name}}.yaml"
CATALOG_FILE = "catalog-info.yaml"
# The catalog entity's annotations naming the XR it stands for.
XR_ANNOTATIONS = {
    "api-version": "xr-api-version",
    "kind": "xr-kind",
    "name": "xr-name",
    "namespace": "xr-namespace",
}
PAD = "  "


def template_name(api: CompositeAPI[Any]) -> str:
    return api.kind.lower()


def _namespaced(api: CompositeAPI[Any]) -> bool:
    return api.scope == "Namespaced"


def entity_suffix(api: CompositeAPI[Any]) -> str:
    """What the catalog entity's name adds to the XR's: XRs of two kinds may share a name."""
    return f"-{api.kind.lower()}"


def _where(api: CompositeAPI[Any]) -> str:
    """The XR as `namespace/name` (or `name`), for titles and branch names."""
    if _namespaced(api):
        return "${{ parameters.namespace }}/${{ parameters.name }}"
    return "${{ parameters.name }}"


def folder(api: CompositeAPI[Any]) -> str:
    """The request's folder in the repository: one per XR, so none overwrites another."""
    return "${{ parameters.path }}/" + _where(api)


def _placement_page(api: CompositeAPI[Any]) -> Schema:
    # The catalog entity's name is the XR's plus the kind, within the catalog's 63 characters.
    name = NAME | {"maxLength": 63 - len(entity_suffix(api))}
    properties: Schema = {
        "name": name | {"title": "Name", "description": f"Name of the {api.kind}."},
    }
    required = ["name"]
    if _namespaced(api):
        properties["namespace"] = NAME | {
            "title": "Namespace",
            "description": "Your team's namespace: what is composed lands there.",
        }
        required.append("namespace")
    # OwnerPicker (Backstage's "Writing Templates", built-in field extensions): a Group or
    # User from the catalog, owner of the catalog entry.
    properties["owner"] = {
        "title": "Owner",
        "type": "string",
        "description": f"The team that owns the {kind_title(api)} in the catalog.",
        "ui:field": "OwnerPicker",
        "ui:options": {"catalogFilter": {"kind": ["Group", "User"]}},
    }
    required.append("owner")
    return {"title": "Placement and ownership", "required": required, "properties": properties}


def _parameters_page(api: CompositeAPI[Any]) -> Schema:
    return {
        "title": kind_title(api),
        "description": api.description,
        "required": ["parameters"],
        "properties": {"parameters": {"title": "Settings"} | form_schema(api)},
    }


def _repository_page(api: CompositeAPI[Any], settings: BackstageSettings) -> Schema:
    return {
        "title": "Pull request",
        "required": ["repoUrl", "path"],
        "properties": {
            "repoUrl": {
                "title": "GitOps repository",
                "type": "string",
                "ui:field": "RepoUrlPicker",
                "ui:options": {"allowedHosts": list(settings.gitHosts)},
            },
            "path": FOLDER
            | {
                "title": "Folder in the repository",
                "description": "The request goes to <folder>/"
                + ("<namespace>/" if _namespaced(api) else "")
                + "<name>/.",
                "default": f"infrastructure/{api.plural}",
            },
        },
    }


def _owner() -> str:
    """The picked owner as a full entity reference: the entry lives in the XR's namespace,
    where a reference without one would point."""
    return (
        "{% set owner = parameters.owner | parseEntityRef("
        '{"defaultKind": "group", "defaultNamespace": "default"}) %}'
        "${{ owner.kind | lower }}:${{ owner.namespace }}/${{ owner.name }}"
    )


def entity(api: CompositeAPI[Any]) -> Schema:
    """The catalog entry of a requested XR: a Resource owned by the team, named after the XR."""
    annotations = {
        f"{DOMAIN}/{XR_ANNOTATIONS['api-version']}": api.api_version,
        f"{DOMAIN}/{XR_ANNOTATIONS['kind']}": api.kind,
        f"{DOMAIN}/{XR_ANNOTATIONS['name']}": "${{ parameters.name }}",
    }
    metadata: Schema = {"name": "${{ parameters.name }}" + entity_suffix(api)}
    if _namespaced(api):
        metadata["namespace"] = "${{ parameters.namespace }}"
        annotations[f"{DOMAIN}/{XR_ANNOTATIONS['namespace']}"] = "${{ parameters.namespace }}"
    metadata |= {
        "title": f"${{{{ parameters.name }}}} ({kind_title(api)})",
        "description": api.description,
        "annotations": annotations,
        "tags": _tags(api),
    }
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Resource",
        "metadata": metadata,
        "spec": {"type": api.kind.lower(), "owner": _owner()},
    }


def entity_ref(api: CompositeAPI[Any]) -> str:
    namespace = "${{ parameters.namespace }}" if _namespaced(api) else "default"
    return f"resource:{namespace}/${{{{ parameters.name }}}}{entity_suffix(api)}"


def _tags(api: CompositeAPI[Any]) -> list[str]:
    return ["crossplane", api.group.split(".", 1)[0]]


def template(kind: AnyKind, settings: BackstageSettings) -> Schema:
    """The Template entity of one kind."""
    api = kind.api
    values: Schema = {
        "name": "${{ parameters.name }}",
        "parameters": "${{ parameters.parameters }}",
    }
    if _namespaced(api):
        values["namespace"] = "${{ parameters.namespace }}"
    where = _where(api)
    files = f"`{folder(api)}/`"
    repo = "{% set repo = parameters.repoUrl | parseRepoUrl %}"
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {
            "name": template_name(api),
            "title": f"New {kind_title(api)}",
            "description": api.description,
            "tags": _tags(api),
        },
        "spec": {
            "owner": settings.owner,
            "type": "infrastructure",
            "parameters": [
                _placement_page(api),
                _parameters_page(api),
                _repository_page(api, settings),
            ],
            "steps": [
                {
                    "id": "render",
                    "name": f"Write the {api.kind}",
                    "action": "fetch:template",
                    "input": {
                        "url": "./skeleton",
                        "targetPath": folder(api),
                        "values": values,
                    },
                },
                {
                    "id": "catalog",
                    "name": "Write its catalog entry",
                    "action": "catalog:write",
                    "input": {
                        "filePath": f"{folder(api)}/{CATALOG_FILE}",
                        "entity": entity(api),
                    },
                },
                {
                    "id": "publish",
                    "name": "Open the pull request",
                    "action": "publish:github:pull-request",
                    "input": {
                        "repoUrl": "${{ parameters.repoUrl }}",
                        "branchName": f"{template_name(api)}-" + where.replace("/", "-"),
                        "title": f"Request {api.kind} {where}",
                        "description": f"{api.description}\n\nOpened by the Backstage template "
                        f"`{template_name(api)}`: the {api.kind} and its catalog entry "
                        f"(`{CATALOG_FILE}`, owned by `${{{{ parameters.owner }}}}`) are in "
                        f"{files}.",
                    },
                },
                {
                    "id": "register",
                    "name": "Register the catalog entry",
                    "action": "catalog:register",
                    "input": {
                        "repoContentsUrl": repo
                        + "https://${{ repo.host }}/${{ repo.owner }}/${{ repo.repo }}/blob/"
                        + "${{ steps['publish'].output.targetBranchName }}",
                        "catalogInfoPath": f"/{folder(api)}/{CATALOG_FILE}",
                        "optional": True,
                    },
                },
            ],
            "output": {
                "links": [
                    {"title": "Pull request", "url": "${{ steps['publish'].output.remoteUrl }}"}
                ],
                "text": [
                    {
                        "title": "In the catalog after the merge",
                        "content": f"The pull request adds the {api.kind} and its catalog "
                        f"entry to {files}. The entry's location is registered now, on "
                        "`${{ steps['publish'].output.targetBranchName }}`, where the file "
                        "appears only when the pull request is merged: until then the catalog "
                        f"cannot read it, and `{entity_ref(api)}` appears at the catalog's first "
                        "refresh after the merge. If the pull request is closed unmerged, "
                        "unregister the location "
                        "`${{ steps['register'].output.catalogInfoUrl }}` in the catalog.",
                    }
                ],
            },
        },
    }


def skeleton(kind: AnyKind) -> str:
    """The skeleton file fetch:template renders into the XR manifest."""
    api = kind.api
    lines = [
        f"# Requested through the Backstage template {template_name(api)}.",
        f"apiVersion: {api.api_version}",
        f"kind: {api.kind}",
        "metadata:",
        f"{PAD}name: {_scalar('values.name')}",
    ]
    if _namespaced(api):
        lines.append(f"{PAD}namespace: {_scalar('values.namespace')}")
    lines.append("spec:")
    lines += _field("parameters", form_schema(api), "values.parameters", PAD, 0)
    return "\n".join(lines) + "\n"


# The skeleton's YAML, spelled out from the schema. Each nunjucks tag is alone on its line
# and strips the line break before it (`{%-`), so the output has exactly the value lines.


def _scalar(expr: str) -> str:
    return f"${{{{ {expr} | dump }}}}"


def _is_object(schema: Schema) -> bool:
    return "properties" in schema


def _lead(schema: Schema) -> str | None:
    """A required scalar property: a list item's mapping starts with it, after the `- `."""
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        if not _is_object(prop) and prop.get("type") != "array":
            return str(name)
    return None


def _mapping(schema: Schema, expr: str, pad: str, depth: int) -> list[str]:
    """The properties of the object at expr (defined), one line or block each."""
    properties: Schema = schema["properties"]
    required = set(schema.get("required", []))
    lead = _lead(schema)
    order = ([lead] if lead else []) + [n for n in properties if n != lead]
    lines = []
    for name in order:
        value = f"{expr}.{name}"
        body = _field(name, properties[name], value, pad, depth)
        if name in required:
            lines += body
        else:
            lines += [f"{{%- if {value} is defined %}}", *body, "{%- endif %}"]
    return lines


def _field(name: str, schema: Schema, value: str, pad: str, depth: int) -> list[str]:
    """`name: value` for a scalar; an object or a list as a block, `{}` or `[]` when empty."""
    if _is_object(schema):
        return _block(
            value,
            [f"{pad}{name}:", *_mapping(schema, value, pad + PAD, depth)],
            f"{pad}{name}: {{}}",
        )
    if schema.get("type") == "array":
        item = f"item{depth}"
        return _block(
            value,
            [
                f"{pad}{name}:",
                f"{{%- for {item} in {value} %}}",
                *_item(schema.get("items", {}), item, pad, depth + 1),
                "{%- endfor %}",
            ],
            f"{pad}{name}: []",
        )
    return [f"{pad}{name}: {_scalar(value)}"]


def _block(value: str, lines: list[str], empty: str) -> list[str]:
    return [f"{{%- if {value} | length %}}", *lines, "{%- else %}", empty, "{%- endif %}"]


def _item(schema: Schema, value: str, pad: str, depth: int) -> list[str]:
    """One list item: `- value`, or a mapping after `- ` (on its own line when the mapping
    has no required scalar to start with)."""
    if not _is_object(schema):
        return [f"{pad}- {_scalar(value)}"]
    lines = _mapping(schema, value, pad + PAD, depth)
    if _lead(schema):
        return [f"{pad}- {lines[0].removeprefix(pad + PAD)}", *lines[1:]]
    return _block(value, [f"{pad}-", *lines], f"{pad}- {{}}")
