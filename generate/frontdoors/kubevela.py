"""KubeVela ComponentDefinitions from the models: one per kind, and a webservice that brings them.

A kind's component turns `parameter` into the platform XR (apiVersion, kind
and spec.parameters exactly as its XRD wants; name and namespace from
KubeVela's context). `platform-webservice` is a Deployment whose `database` and
`cache` properties each add that kind's XR as an extra output and mount its
connection Secret (ConnectionSecret in function/model.py: the same name and keys
the composer writes) into the container's environment, so a `webservice` with a
`database` gets its connection without naming a Secret.

Shapes follow KubeVela's own definitions at v1.10 (vela-templates/definitions/
internal/component/webservice.cue): `output` is the workload, `outputs` the
extra objects, `status.healthPolicy` judges the workload as the cluster reports it
(`context.output`: the live object).
"""

from typing import Any

from function.kind import AnyKind
from function.model import CompositeAPI, ConnectionSecret
from generate.frontdoors.cue import INDENT, Cue
from generate.frontdoors.forms import form_schema
from generate.schema import Schema

WEBSERVICE = "platform-webservice"
# An XR is healthy when Crossplane reports Ready=True and its last reconcile did not fail:
# Synced=False leaves Ready as it was before the failure. The same judgement as Crossplane's
# documented Argo CD health check (crossplane docs, guides/crossplane-with-argo-cd.md; argo-cd
# resource_customizations/_.crossplane.io/_/health.lua).
XR_HEALTH = """\
_conditions: *context.output.status.conditions | []
_ready: [for c in _conditions if c.type == "Ready" && c.status == "True" {c}]
_failed: [for c in _conditions if c.type == "Synced" && c.status == "False" {c}]
isHealth: len(_ready) > 0 && len(_failed) == 0
"""
# A Deployment is healthy when kube-controller-manager has seen its current spec, every
# replica runs the current template and is ready, no old replica is left, and it reports
# Available=True (ready for minReadySeconds, within maxUnavailable). KubeVela's own
# webservice (vela-templates/definitions/internal/component/webservice.cue) compares the
# same counts, reading a count the API server leaves out (it omits zeros) as 0, so a
# Deployment scaled to 0 is healthy; it does not read Available.
DEPLOYMENT_HEALTH = """\
_status:     *context.output.status | {}
_desired:    *context.output.spec.replicas | 1
_observed:   *_status.observedGeneration | 0
_replicas:   *_status.replicas | 0
_updated:    *_status.updatedReplicas | 0
_ready:      *_status.readyReplicas | 0
_available: [for c in *_status.conditions | [] if c.type == "Available" && c.status == "True" {c}]
isHealth: _observed >= context.output.metadata.generation && _replicas == _desired &&
	_updated == _desired && _ready == _desired && len(_available) > 0
"""


def definition_name(api: CompositeAPI[Any]) -> str:
    return api.kind.lower()


def _metadata(api: CompositeAPI[Any], name: str) -> str:
    if api.scope == "Namespaced":
        return f"{{\n\t\tname:      {name}\n\t\tnamespace: context.namespace\n\t}}"
    return f"name: {name}"


def _xr(api: CompositeAPI[Any], name: str, parameters: str) -> str:
    return (
        "{\n"
        f'\tapiVersion: "{api.api_version}"\n'
        f'\tkind:       "{api.kind}"\n'
        f"\tmetadata: {_metadata(api, name)}\n"
        f"\tspec: parameters: {parameters}\n"
        "}"
    )


def _definition(
    name: str, description: str, workload: Schema, template: str, health: str
) -> Schema:
    return {
        "apiVersion": "core.oam.dev/v1beta1",
        "kind": "ComponentDefinition",
        "metadata": {
            "name": name,
            "annotations": {"definition.oam.dev/description": description},
        },
        "spec": {
            "workload": {"definition": workload},
            # Spaces, not tabs: YAML keeps a tab-indented text only as an escaped string.
            "schematic": {"cue": {"template": template.expandtabs(4)}},
            "status": {"healthPolicy": health.expandtabs(4)},
        },
    }


def component(kind: AnyKind) -> Schema:
    """The ComponentDefinition of one kind: its XR from `parameter`."""
    api = kind.api
    cue = Cue()
    parameter = cue.type_of(form_schema(api), 0)
    template = (
        cue.header()
        + f"output: {_xr(api, 'context.name', 'parameter')}\n"
        + f"parameter: {parameter}\n"
    )
    workload = {"apiVersion": api.api_version, "kind": api.kind}
    return _definition(definition_name(api), api.description, workload, template, XR_HEALTH)


def dependencies(
    catalogue: tuple[AnyKind, ...],
) -> list[tuple[CompositeAPI[Any], ConnectionSecret]]:
    """The kinds a workload can bring along: those writing a connection Secret, in order."""
    return [(k.api, k.api.connection) for k in catalogue if k.api.connection is not None]


def dependency_xr_name(connection: ConnectionSecret) -> str:
    """CUE for the XR a webservice brings: <component>-<property>."""
    return f'"\\(_name)-{connection.workload_property}"'


def _env(connection: ConnectionSecret) -> list[str]:
    secret = connection.name(f"\\(_name)-{connection.workload_property}")
    prop = connection.workload_property
    return [
        f'if parameter.{prop} != _|_ {{name: "{prop.upper()}_{key.upper()}", '
        f'valueFrom: secretKeyRef: {{name: "{secret}", key: "{key}"}}}},'
        for key in connection.keys
    ]


def webservice(catalogue: tuple[AnyKind, ...]) -> Schema:
    """A Deployment with the platform's databases and caches as properties."""
    cue = Cue()
    cue.imports.add("strings")
    deps = dependencies(catalogue)
    # The longest suffix a derived name adds: "-database-postgresql".
    longest = max((len(c.name(f"-{c.workload_property}")) for _, c in deps), default=0)
    env = [line for _, c in deps for line in _env(c)]
    env_block = "".join(f"{INDENT * 5}{line}\n" for line in env)
    outputs = "".join(
        f"\tif parameter.{c.workload_property} != _|_ {{\n"
        f"\t\t{c.workload_property}: "
        + _xr(api, dependency_xr_name(c), f"parameter.{c.workload_property}").replace(
            "\n", "\n\t\t"
        )
        + "\n\t}\n"
        for api, c in deps
    )
    properties = "".join(
        f"\t// +usage=A {api.kind} for this service; its connection Secret is mounted "
        f"as {c.workload_property.upper()}_* variables.\n"
        f"\t{c.workload_property}?: {cue.type_of(form_schema(api), 1)}\n"
        for api, c in deps
    )
    template = (
        cue.header()
        + "// Every name derived from the component's fits a DNS label uncut\n"
        + "// (function/naming.py would shorten it with a hash the template cannot know).\n"
        + f"_name: context.name & strings.MaxRunes({63 - longest})\n"
        + "output: {\n"
        + '\tapiVersion: "apps/v1"\n'
        + '\tkind:       "Deployment"\n'
        + "\tmetadata: name: _name\n"
        + "\tspec: {\n"
        + "\t\treplicas: parameter.replicas\n"
        + '\t\tselector: matchLabels: "app.oam.dev/component": _name\n'
        + "\t\ttemplate: {\n"
        + '\t\t\tmetadata: labels: "app.oam.dev/component": _name\n'
        + "\t\t\tspec: containers: [{\n"
        + "\t\t\t\tname:  _name\n"
        + "\t\t\t\timage: parameter.image\n"
        + "\t\t\t\tports: [{containerPort: parameter.port}]\n"
        + "\t\t\t\tresources: requests: {cpu: parameter.cpu, memory: parameter.memory}\n"
        + "\t\t\t\tenv: [\n"
        + env_block
        + "\t\t\t\t]\n"
        + "\t\t\t}]\n"
        + "\t\t}\n"
        + "\t}\n"
        + "}\n"
        + "outputs: {\n"
        + outputs
        + "}\n"
        + "parameter: {\n"
        + "\t// +usage=Container image.\n"
        + "\timage: string\n"
        + "\t// +usage=Port the container listens on.\n"
        + "\tport: *8080 | int & >=1 & <=65535\n"
        + "\t// +usage=Pod count.\n"
        + "\treplicas: *1 | int & >=0 & <=100\n"
        + "\t// +usage=CPU request.\n"
        + '\tcpu: *"100m" | string\n'
        + "\t// +usage=Memory request.\n"
        + '\tmemory: *"128Mi" | string\n'
        + properties
        + "}\n"
    )
    workload = {"apiVersion": "apps/v1", "kind": "Deployment"}
    description = (
        "A web service (Deployment) that can bring its own platform database and cache: "
        "their XRs are composed beside it and their connection Secrets mounted as env."
    )
    return _definition(WEBSERVICE, description, workload, template, DEPLOYMENT_HEALTH)
