"""A Backstage Software Template per kind: a form from the model, a pull request with the XR.

The template follows scaffolder.backstage.io/v1beta3 as Backstage documents it
(docs/features/software-templates/writing-templates.md): parameter pages in
react-jsonschema-form's JSON Schema, then fetch:template renders the skeleton
and publish:github:pull-request opens the pull request, so a team's request is reviewed
like any change to its repository. The skeleton writes spec.parameters with nunjucks'
`dump` (JSON, which is YAML), so every value keeps its type and nothing the user types is
interpreted.
"""

from typing import Any

from function.kind import AnyKind
from function.model import CompositeAPI
from generate.frontdoors.forms import form_schema
from generate.schema import Schema

OWNER = "platform-team"
# RFC 1123 label starting with a letter: every kind's resources are named after the XR.
NAME = {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
SKELETON_FILE = "${{values.name}}.yaml"


def template_name(api: CompositeAPI[Any]) -> str:
    return api.kind.lower()


def _namespaced(api: CompositeAPI[Any]) -> bool:
    return api.scope == "Namespaced"


def _object_page(api: CompositeAPI[Any]) -> Schema:
    properties: Schema = {
        "name": NAME | {"title": "Name", "description": f"Name of the {api.kind}."},
    }
    required = ["name"]
    if _namespaced(api):
        properties["namespace"] = NAME | {
            "title": "Namespace",
            "description": "Your team's namespace: what is composed lands there.",
        }
        required.append("namespace")
    return {"title": api.kind, "required": required, "properties": properties}


def _repository_page(api: CompositeAPI[Any]) -> Schema:
    return {
        "title": "Pull request",
        "required": ["repoUrl", "path"],
        "properties": {
            "repoUrl": {
                "title": "GitOps repository",
                "type": "string",
                "ui:field": "RepoUrlPicker",
                "ui:options": {"allowedHosts": ["github.com"]},
            },
            "path": {
                "title": "Folder in the repository",
                "type": "string",
                "default": f"infrastructure/{api.plural}",
            },
        },
    }


def template(kind: AnyKind) -> Schema:
    """The Template entity of one kind."""
    api = kind.api
    values: Schema = {
        "name": "${{ parameters.name }}",
        "parameters": "${{ parameters.parameters }}",
    }
    where = "${{ parameters.name }}"
    if _namespaced(api):
        values["namespace"] = "${{ parameters.namespace }}"
        where = "${{ parameters.namespace }}/${{ parameters.name }}"
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {
            "name": template_name(api),
            "title": f"New {api.kind}",
            "description": api.description,
            "tags": ["crossplane", api.group.split(".", 1)[0]],
        },
        "spec": {
            "owner": OWNER,
            "type": "infrastructure",
            "parameters": [
                _object_page(api),
                {
                    "title": "Parameters",
                    "required": ["parameters"],
                    "properties": {"parameters": {"title": "spec.parameters"} | form_schema(api)},
                },
                _repository_page(api),
            ],
            "steps": [
                {
                    "id": "render",
                    "name": f"Write the {api.kind}",
                    "action": "fetch:template",
                    "input": {
                        "url": "./skeleton",
                        "targetPath": "${{ parameters.path }}",
                        "values": values,
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
                        f"`{template_name(api)}`; the XR is in `${{{{ parameters.path }}}}`.",
                    },
                },
            ],
            "output": {
                "links": [
                    {"title": "Pull request", "url": "${{ steps['publish'].output.remoteUrl }}"}
                ]
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
        "  name: ${{ values.name | dump }}",
    ]
    if _namespaced(api):
        lines.append("  namespace: ${{ values.namespace | dump }}")
    lines += ["spec:", "  parameters: ${{ values.parameters | dump }}"]
    return "\n".join(lines) + "\n"
