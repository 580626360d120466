"""What a valid XR's parameters must produce, per kind: the fuzzing oracle's kind invariants.

Written from each kind's API (its XRD and parameter descriptions), not from its
composer: objects are found by apiVersion and kind, never by the composer's resource
names, and nothing here imports from function/. Defaults are the XRD's
(xrds/<plural>.yaml), written out. Each check holds for every response that composed
(no FATAL), whatever was observed; what exists only once something is observed (add-ons
after a kubeconfig, workloads after their namespace) is checked when it is there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

JSON = dict[str, Any]

HELM = "helm.m.crossplane.io"
KUBERNETES_OBJECT = "kubernetes.m.crossplane.io"
EXTERNAL_NAME = "crossplane.io/external-name"


def dig(obj: Any, *path: str | int) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or not -len(obj) <= part < len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def group_of(obj: JSON) -> str:
    return str(obj.get("apiVersion", "")).rpartition("/")[0]


# Kubernetes quantities (k8s.io/apimachinery/pkg/api/resource): a number and a suffix.
_SUFFIX = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|([a-zA-Z]*))")


def quantity(value: Any) -> Decimal | None:
    if not isinstance(value, str | int):
        return None
    found = _QUANTITY.fullmatch(str(value))
    if found is None or (found.group(3) or "") not in _SUFFIX:
        return None
    number = Decimal(found.group(1) + (found.group(2) or ""))
    return number * _SUFFIX[found.group(3) or ""]


@dataclass
class Check:
    """One response of one XR: its parameters, the input's spec, what was composed."""

    params: JSON
    settings: JSON
    composed: dict[str, JSON]
    status: JSON
    namespace: str
    name: str
    problems: list[str] = field(default_factory=list)

    def of(self, group: str, kind: str) -> list[JSON]:
        return [o for o in self.composed.values() if group_of(o) == group and o.get("kind") == kind]

    def releases(self) -> Iterator[tuple[str, JSON]]:
        """(release name, values) of every Helm Release."""
        for release in self.of(HELM, "Release"):
            name = dig(release, "metadata", "annotations", EXTERNAL_NAME)
            yield str(name), dig(release, "spec", "forProvider", "values") or {}

    def manifests(self, kind: str) -> list[JSON]:
        """Manifests of that kind placed by provider-kubernetes Objects."""
        found = (
            dig(o, "spec", "forProvider", "manifest") for o in self.of(KUBERNETES_OBJECT, "Object")
        )
        return [m for m in found if isinstance(m, dict) and m.get("kind") == kind]

    def want(self, what: str, got: Any, expected: Any) -> None:
        if got != expected:
            self.problems.append(f"{what}: {got!r}, expected {expected!r}")

    def want_true(self, what: str, holds: bool) -> None:
        if not holds:
            self.problems.append(what)

    def param(self, *path: str, default: Any = None) -> Any:
        value = dig(self.params, *path)
        return default if value is None else value


# ---------------------------------------------------------------- RedisInstance


def redis(c: Check) -> None:
    """A Valkey release sized by memoryGB and replicas; auth always on."""
    replicas = c.param("replicas", default=1)
    memory_gb = c.param("memoryGB", default=1)
    persistence = c.param("persistence", default=True)
    size = f"{c.param('persistenceSizeGB', default=8)}Gi"
    releases = list(c.releases())
    c.want("Valkey releases", len(releases), 1)
    for _, values in releases:
        c.want("memory limit", dig(values, "resources", "limits", "memory"), f"{memory_gb}Gi")
        c.want("memory request", dig(values, "resources", "requests", "memory"), f"{memory_gb}Gi")
        found = re.search(r"maxmemory ([0-9]+)mb", str(values.get("valkeyConfig", "")))
        c.want_true(
            f"maxmemory under the {memory_gb}Gi limit: {values.get('valkeyConfig')!r}",
            found is not None and int(found.group(1)) < memory_gb * 1024,
        )
        c.want("auth.enabled", dig(values, "auth", "enabled"), True)
        if replicas > 1:
            c.want("replica.enabled", dig(values, "replica", "enabled"), True)
            c.want(
                "replica.replicas (besides the primary)",
                dig(values, "replica", "replicas"),
                replicas - 1,
            )
            c.want("replica volume size", dig(values, "replica", "persistence", "size"), size)
        else:
            c.want_true(
                "no replicas for replicas: 1", dig(values, "replica", "enabled") is not True
            )
            c.want(
                "dataStorage.enabled", dig(values, "dataStorage", "enabled") is True, persistence
            )
            if persistence:
                c.want("volume size", dig(values, "dataStorage", "requestedSize"), size)
        ref = c.params.get("passwordSecretRef")
        if isinstance(ref, dict):
            c.want("ACL Secret", dig(values, "auth", "usersExistingSecret"), ref["name"])
            key = dig(values, "auth", "aclUsers", "default", "passwordKey")
            c.want("ACL Secret key", key, ref.get("key", "password"))
    for release in c.of(HELM, "Release"):
        c.want("release namespace", dig(release, "spec", "forProvider", "namespace"), c.namespace)


# ---------------------------------------------------------------- PostgreSQLInstance

CNPG = "postgresql.cnpg.io"
SQL = "postgresql.sql.m.crossplane.io"


def postgresql(c: Check) -> None:
    """shared: a Database, Role and Grant; dedicated: a CloudNativePG Cluster sized by storageGB."""
    dedicated = c.param("deployment", default="shared") == "dedicated"
    clusters = c.of(CNPG, "Cluster")
    if not dedicated:
        c.want("CloudNativePG Clusters of a shared instance", len(clusters), 0)
        for kind in ("Database", "Role", "Grant"):
            c.want(f"provider-sql {kind}s", len(c.of(SQL, kind)), 1)
        return
    for kind in ("Database", "Role", "Grant"):
        c.want(f"provider-sql {kind}s of a dedicated instance", len(c.of(SQL, kind)), 0)
    if "cloneFrom" not in c.params:  # a clone waits for its source before its Cluster
        c.want("CloudNativePG Clusters", len(clusters), 1)
    backup = c.param("enableBackup", default=True)
    version = c.param("version", default=16)
    images = dig(c.settings, "postgresqlInstance", "dedicated", "images")
    for cluster in clusters:
        c.want(
            "storage size",
            dig(cluster, "spec", "storage", "size"),
            f"{c.param('storageGB', default=20)}Gi",
        )
        image = dig(cluster, "spec", "imageName")
        if isinstance(images, dict):
            c.want("image (the input's for the version)", image, images.get(str(version)))
        else:
            c.want_true(f"image {image!r} of PostgreSQL {version}", f":{version}." in str(image))
        c.want(
            "WAL archiving (plugins) when enableBackup",
            bool(dig(cluster, "spec", "plugins")),
            backup,
        )
    if clusters:
        c.want("ScheduledBackups", len(c.of(CNPG, "ScheduledBackup")), 1 if backup else 0)
    restore = c.params.get("restore")
    for cluster in clusters:
        bootstrap = dig(cluster, "spec", "bootstrap") or {}
        c.want(
            "bootstrap (recovery with restore, else initdb)",
            sorted(bootstrap),
            ["recovery" if restore else "initdb"],
        )
    # Tenancy: every archive read or written is under the XR's own namespace.
    base = dig(c.settings, "postgresqlInstance", "dedicated", "backup", "destinationPath")
    for store in c.of("barmancloud.cnpg.io", "ObjectStore"):
        path = str(dig(store, "spec", "configuration", "destinationPath"))
        c.want_true(
            f"archive {path!r} under {base}/{c.namespace}/",
            path.startswith(f"{base}/{c.namespace}/") and ".." not in path,
        )


# ---------------------------------------------------------------- KubernetesCluster

CAPI = "cluster.x-k8s.io"
CONTROL_PLANE = "controlplane.cluster.x-k8s.io"
CAPK = "infrastructure.cluster.x-k8s.io"
NETWORK_PLUGINS = ("kube-ovn", "calico", "cilium")


def _machine_template(c: Check, name: Any) -> JSON | None:
    found = [t for t in c.of(CAPK, "KubevirtMachineTemplate") if dig(t, "metadata", "name") == name]
    c.want(f"KubevirtMachineTemplates named {name!r}", len(found), 1)
    return found[0] if found else None


def _machines(c: Check, template: JSON | None, role: str) -> None:
    """A machine template's CPU, memory and disk: the parameters' when set."""
    vm = dig(template, "spec", "template", "spec", "virtualMachineTemplate", "spec")
    domain = dig(vm, "template", "spec", "domain")
    cpu, memory = c.params.get(f"{role}CPU"), c.params.get(f"{role}Memory")
    if cpu is not None:
        c.want(f"{role} CPU request", dig(domain, "resources", "requests", "cpu"), cpu)
        cores = quantity(cpu)
        if cores is not None:
            c.want(f"{role} cores", dig(domain, "cpu", "cores"), math.ceil(cores))
    if memory is not None:
        c.want(f"{role} memory", dig(domain, "resources", "requests", "memory"), memory)
    disk = dig(vm, "dataVolumeTemplates", 0, "spec", "storage")
    if role == "worker" and c.params.get("workerStorage") is not None:
        c.want(
            "worker disk", dig(disk, "resources", "requests", "storage"), c.params["workerStorage"]
        )
    shared = "ReadWriteMany" if c.param("enableLiveMigration", default=True) else "ReadWriteOnce"
    c.want(f"{role} disk access (enableLiveMigration)", dig(disk, "accessModes"), [shared])


def kubernetes_cluster(c: Check) -> None:
    """Machine counts and sizes from the parameters when set; one version; one CNI."""
    version = c.params.get("kubernetesVersion")
    control_planes = c.of(CONTROL_PLANE, "KubeadmControlPlane")
    workers = c.of(CAPI, "MachineDeployment")
    c.want("KubeadmControlPlanes", len(control_planes), 1)
    c.want("MachineDeployments", len(workers), 1)
    for cp in control_planes:
        if c.params.get("controlPlaneNodes") is not None:
            c.want(
                "control plane replicas", dig(cp, "spec", "replicas"), c.params["controlPlaneNodes"]
            )
        if version is not None:
            c.want("control plane version", dig(cp, "spec", "version"), version)
        ref = dig(cp, "spec", "machineTemplate", "spec", "infrastructureRef", "name")
        _machines(c, _machine_template(c, ref), "controlPlane")
    for md in workers:
        if c.params.get("workerNodes") is not None:
            c.want("worker replicas", dig(md, "spec", "replicas"), c.params["workerNodes"])
        if version is not None:
            c.want("worker version", dig(md, "spec", "template", "spec", "version"), version)
        ref = dig(md, "spec", "template", "spec", "infrastructureRef", "name")
        _machines(c, _machine_template(c, ref), "worker")
    if control_planes and workers:
        c.want(
            "control plane and worker versions",
            dig(control_planes[0], "spec", "version"),
            dig(workers[0], "spec", "template", "spec", "version"),
        )
    plugin = c.param("networkPlugin", default="kube-ovn")
    others = sorted(n for n, _ in c.releases() if n in NETWORK_PLUGINS and n != plugin)
    c.want(f"network plugin releases besides {plugin}", others, [])


# ---------------------------------------------------------------- VClusterEnvironment


def vcluster(c: Check) -> None:
    """The vCluster release: version, quota, limit range and isolation from the parameters."""
    found = [values for name, values in c.releases() if name == c.name]
    c.want(f"vCluster releases named {c.name!r}", len(found), 1)
    quota = c.param("resources", "quota", default={})
    limits = c.param("resources", "limitRange", default={})
    for values in found:
        if c.params.get("kubernetesVersion") is not None:
            got = dig(values, "controlPlane", "distro", "k8s", "version")
            c.want("Kubernetes version", got, c.params["kubernetesVersion"])
        policies = values.get("policies") or {}
        hard = dig(policies, "resourceQuota", "quota") or {}
        for key, param in (
            ("requests.cpu", "cpu"),
            ("requests.memory", "memory"),
            ("requests.storage", "storage"),
            ("count/pods", "pods"),
        ):
            if quota.get(param) is not None:
                c.want(f"quota {key}", hard.get(key), quota[param])
        for key, param in (("limits.cpu", "cpu"), ("limits.memory", "memory")):
            if quota.get(param) is not None:
                want, got = quantity(quota[param]), quantity(hard.get(key))
                c.want_true(
                    f"quota {key} {hard.get(key)!r} twice {quota[param]!r}",
                    want is not None and got == 2 * want,
                )
        for key, part, param in (
            ("default", "cpu", "defaultCPU"),
            ("default", "memory", "defaultMemory"),
            ("defaultRequest", "cpu", "defaultRequestCPU"),
            ("defaultRequest", "memory", "defaultRequestMemory"),
        ):
            if limits.get(param) is not None:
                c.want(
                    f"limit range {key}.{part}",
                    dig(policies, "limitRange", key, part),
                    limits[param],
                )
        isolation = c.param("isolation", default={})
        network_policy = isolation.get("networkPolicy", True)
        c.want("networkPolicy.enabled", dig(policies, "networkPolicy", "enabled"), network_policy)
        egress = dig(policies, "networkPolicy", "workload", "publicEgress", "enabled")
        c.want("publicEgress.enabled", egress, isolation.get("publicEgress", True))
    gitops = c.params.get("gitops")
    for app in c.manifests("Application"):
        c.want_true("an Argo CD Application without gitops", isinstance(gitops, dict))
        if isinstance(gitops, dict):
            source = dig(app, "spec", "source") or {}
            c.want("Application repoURL", source.get("repoURL"), gitops["repoURL"])
            c.want("Application path", source.get("path"), gitops.get("path", "."))
            c.want(
                "Application revision",
                source.get("targetRevision"),
                gitops.get("targetRevision", "HEAD"),
            )
            c.want(
                "Application namespace",
                dig(app, "spec", "destination", "namespace"),
                gitops.get("namespace", "default"),
            )


# ---------------------------------------------------------------- ServiceIngress

GATEWAY = "gateway.networking.k8s.io"
AWS = "apigatewayv2.aws.m.upbound.io"


def _backend_refs(route: JSON) -> list[JSON]:
    out = []
    for b in route["backends"]:
        ref = {"name": b["service"], "port": b["port"]}
        if b.get("weight") is not None:
            ref["weight"] = b["weight"]
        out.append(ref)
    return out


def service_ingress(c: Check) -> None:
    """One HTTPRoute rule per route (gateway-api), or one AWS integration per route, each
    sending a Host that an HTTPRoute of its backend matches (aws-apigateway)."""
    routes = c.params["routes"]
    if c.param("class", default="gateway-api") == "aws-apigateway":
        backends = {(b["service"], b["port"]) for r in routes for b in r["backends"]}
        by_host = {
            host: [(ref["name"], ref["port"]) for ref in dig(r, "spec", "rules", 0, "backendRefs")]
            for r in c.of(GATEWAY, "HTTPRoute")
            for host in dig(r, "spec", "hostnames") or []
        }
        c.want(
            "backends reached",
            sorted({b for refs in by_host.values() for b in refs}),
            sorted(backends),
        )
        for i in c.of(AWS, "Integration"):
            host = dig(i, "spec", "forProvider", "requestParameters", "overwrite:header.host")
            c.want_true(
                f"integration Host {host!r} matched by one backend's HTTPRoute",
                len(by_host.get(host, [])) == 1,
            )
        c.want("VPC links (the platform's)", len(c.of(AWS, "VPCLink")), 0)
        c.want("HTTP APIs", len(c.of(AWS, "API")), 1)
        c.want("integrations (one per route)", len(c.of(AWS, "Integration")), len(routes))
        keys = [dig(r, "spec", "forProvider", "routeKey") for r in c.of(AWS, "Route")]
        c.want_true(f"route keys {keys} (at least one per route)", len(keys) >= len(routes))
        return
    found = c.of(GATEWAY, "HTTPRoute")
    c.want("HTTPRoutes", len(found), 1)
    tls = c.param("tls", "enabled", default=True)
    for route in found:
        c.want("hostnames", dig(route, "spec", "hostnames"), c.params.get("hosts", []))
        rules = dig(route, "spec", "rules") or []
        c.want("rules (one per route)", len(rules), len(routes))
        for i, (rule, want) in enumerate(zip(rules, routes, strict=False)):
            c.want(f"rules[{i}].backendRefs", rule.get("backendRefs"), _backend_refs(want))
            path = {"type": "PathPrefix", "value": "/"} | (dig(want, "match", "path") or {})
            c.want(f"rules[{i}] path", dig(rule, "matches", 0, "path"), path)
            c.want(
                f"rules[{i}] method",
                dig(rule, "matches", 0, "method"),
                dig(want, "match", "method"),
            )
    dedicated = c.param("gateway", default="shared") == "dedicated"
    gateways = c.of(GATEWAY, "Gateway")
    c.want("dedicated Gateways", len(gateways), 1 if dedicated else 0)
    for gateway in gateways:
        protocols = [lst.get("protocol") for lst in dig(gateway, "spec", "listeners") or []]
        c.want("listener protocols (tls.enabled)", protocols, ["HTTPS" if tls else "HTTP"])
    certificates = c.of("cert-manager.io", "Certificate")
    c.want("Certificates", len(certificates), 1 if dedicated and tls else 0)
    for cert in certificates:
        c.want("certificate dnsNames", dig(cert, "spec", "dnsNames"), c.params.get("hosts", []))


# ---------------------------------------------------------------- MLOpsPlatform

KUBEFLOW = "kubeflow.org"
KSERVE = "serving.kserve.io"


def mlops(c: Check) -> None:
    """The Profile (owner, quota), one workload per model and job, what the toggles turn on."""
    profiles = c.of(KUBEFLOW, "Profile")
    c.want("Profiles", len(profiles), 1)
    res = {"cpu": "16", "memory": "64Gi", "gpu": 0, "storage": "500Gi"} | c.param(
        "resources", default={}
    )
    for profile in profiles:
        c.want("Profile name (the XR's)", dig(profile, "metadata", "name"), c.name)
        c.want("Profile owner", dig(profile, "spec", "owner", "name"), c.params["owner"])
        hard = dig(profile, "spec", "resourceQuotaSpec", "hard") or {}
        for key in ("cpu", "memory", "storage"):
            c.want(f"quota requests.{key}", hard.get(f"requests.{key}"), res[key])
        c.want("quota GPUs", hard.get("requests.nvidia.com/gpu"), str(res["gpu"]))
    models = {m["name"]: m for m in c.param("serving", default=[])}
    services = c.of(KSERVE, "InferenceService")
    names = sorted(dig(s, "metadata", "name") for s in services)
    c.want_true(f"InferenceServices {names} of models {sorted(models)}", set(names) <= set(models))
    for svc in services:
        model = models.get(dig(svc, "metadata", "name"), {})
        predictor = dig(svc, "spec", "predictor") or {}
        c.want("minReplicas", predictor.get("minReplicas"), model.get("minReplicas", 1))
        c.want("maxReplicas", predictor.get("maxReplicas"), model.get("maxReplicas", 1))
        c.want("storageUri", dig(predictor, "model", "storageUri"), model.get("storageUri"))
        c.want(
            "model format", dig(predictor, "model", "modelFormat", "name"), model.get("modelFormat")
        )
    jobs = {j["name"]: j for j in c.param("training", default=[])}
    for job in c.of(KUBEFLOW, "TFJob"):
        want = jobs.get(dig(job, "metadata", "name"))
        c.want_true(f"TFJob {dig(job, 'metadata', 'name')!r} of a training job", want is not None)
        specs = dig(job, "spec", "tfReplicaSpecs") or {}
        if want is not None:
            c.want("TFJob workers", dig(specs, "Worker", "replicas"), want.get("workers", 1))
            servers = want.get("parameterServers", 0)
            c.want("TFJob parameter servers", dig(specs, "PS", "replicas"), servers or None)
    db = {"enabled": True, "storageGB": 10, "replicas": 1} | c.param("vectorDatabase", default={})
    qdrant = [values for _, values in c.releases()]  # the one chart it installs
    c.want_true("a Qdrant release with vectorDatabase disabled", db["enabled"] or not qdrant)
    for values in qdrant:
        c.want("Qdrant replicas", values.get("replicaCount"), db["replicas"])
        c.want("Qdrant volume", dig(values, "persistence", "size"), f"{db['storageGB']}Gi")
    notebooks = c.of(KUBEFLOW, "Notebook")
    enabled = c.param("notebooks", "enabled", default=False)
    c.want_true("a Notebook with notebooks disabled", enabled or not notebooks)
    _mlops_quota(c, res)
    _mlops_namespace_labels(c)
    bucket = c.param("objectStore", "bucketName")
    for b in c.of("s3.aws.m.upbound.io", "Bucket"):
        if bucket is not None:
            c.want("bucket name", dig(b, "metadata", "annotations", EXTERNAL_NAME), bucket)


def _mlops_namespace_labels(c: Check) -> None:
    """The workspace namespace gets exactly the environment and team labels, through an
    Object in it that may observe and update the namespace, never create or delete it."""
    objects = [
        o
        for o in c.of(KUBERNETES_OBJECT, "Object")
        if dig(o, "spec", "forProvider", "manifest", "kind") == "Namespace"
    ]
    c.want_true(f"{len(objects)} Objects placing a Namespace", len(objects) <= 1)
    for obj in objects:
        manifest = dig(obj, "spec", "forProvider", "manifest")
        c.want(
            "namespace labels' manifest",
            manifest,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": c.name,
                    "labels": {
                        "platform.example.org/environment": c.params["environment"],
                        "platform.example.org/team": c.params["team"],
                    },
                },
            },
        )
        c.want("namespace labels' Object namespace", dig(obj, "metadata", "namespace"), c.name)
        policies = dig(obj, "spec", "managementPolicies")
        c.want_true(
            f"namespace labels' managementPolicies {policies!r} without Create, Delete or *",
            isinstance(policies, list)
            and "Observe" in policies
            and not {"Create", "Delete", "*"} & set(policies),
        )


def _gpus(container: Any) -> int:
    limits = dig(container, "resources", "limits") or {}
    requests = dig(container, "resources", "requests") or {}
    return int(requests.get("nvidia.com/gpu", limits.get("nvidia.com/gpu", 0)))


def _mlops_quota(c: Check, res: JSON) -> None:
    """What must run at once fits the quota whole (a ResourceQuota admits pods one by one and
    a TFJob's pods are not scheduled as a gang): GPUs of the Notebook's pod, minReplicas
    predictor pods, every TFJob replica; the workspace claim's size is workspaceGB."""
    gpus = 0
    for nb in c.of(KUBEFLOW, "Notebook"):
        gpus += sum(_gpus(x) for x in dig(nb, "spec", "template", "spec", "containers") or [])
    for svc in c.of(KSERVE, "InferenceService"):
        predictor = dig(svc, "spec", "predictor") or {}
        gpus += int(predictor.get("minReplicas", 1)) * _gpus(predictor.get("model"))
    for job in c.of(KUBEFLOW, "TFJob"):
        for replica in (dig(job, "spec", "tfReplicaSpecs") or {}).values():
            pod = dig(replica, "template", "spec", "containers") or []
            gpus += int(replica.get("replicas", 1)) * sum(_gpus(x) for x in pod)
    c.want_true(f"{gpus} GPUs run at once, quota {res['gpu']}", gpus <= int(res["gpu"]))
    workspace = {"workspaceGB": 5} | c.param("notebooks", default={})
    for claim in c.of("", "PersistentVolumeClaim"):
        size = dig(claim, "spec", "resources", "requests", "storage")
        if c.param("notebooks", "enabled", default=False):
            c.want("workspace claim", size, f"{workspace['workspaceGB']}Gi")


INVARIANTS: dict[str, Callable[[Check], None]] = {
    "RedisInstance": redis,
    "PostgreSQLInstance": postgresql,
    "KubernetesCluster": kubernetes_cluster,
    "VClusterEnvironment": vcluster,
    "ServiceIngress": service_ingress,
    "MLOpsPlatform": mlops,
}


def violations(
    kind: str, xr: JSON, settings: JSON | None, composed: dict[str, JSON], status: JSON
) -> list[str]:
    """What a composed response of a valid XR of kind breaks in its kind's table."""
    meta = xr.get("metadata") or {}
    check = Check(
        params=dig(xr, "spec", "parameters") or {},
        settings=settings or {},
        composed=composed,
        status=status,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
    )
    INVARIANTS[kind](check)
    return [f"{kind} invariant: {p}" for p in check.problems]
