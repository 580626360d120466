"""A real control plane on loopback, no Docker: etcd, kube-apiserver, kube-controller-manager,
Crossplane core, and this project's function served with mTLS.

Used by the control-plane e2e test (tests/controlplane, `make e2e`). Every binary is the real
one at its pinned version (`make e2e-tools`); only the kubelet and the providers are missing,
so composed managed resources just sit there and the test writes their status itself.

How Crossplane core reaches a function it did not install: a paused Function and a paused,
Active FunctionRevision labelled pkg.crossplane.io/package=<name>, whose status.endpoint
(written through the status subresource) names the function's loopback port. Core lists the
revisions by that label and dials the Active one's endpoint with its client certificate
(crossplane v2.3.4 internal/xfn/function_runner.go, getClientConn).
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes import dynamic
from kubernetes.dynamic.exceptions import NotFoundError

from generate import release
from harness import process
from harness.cases import JSON, load_yaml_docs, split_api_version
from harness.paths import ROOT, go_tool, shared_dir
from harness.server import FunctionServer

# The Function object the Compositions call, and its package (generate/release.py).
RELEASE = release.default()
FUNCTION_NAME = RELEASE.function_name
CROSSPLANE_NAMESPACE = "crossplane-system"
FIELD_MANAGER = "e2e"
ADMIN, CORE_USER = "e2e-admin", "crossplane"
# Secrets `crossplane core init` fills, and reuses when they already hold a certificate
# (crossplane v2.3.4 internal/initializer/tls.go): the harness writes them from one CA of its
# own, so core's webhook server, its client certificate and the function's server
# certificate can all carry the loopback address.
TLS_SECRETS = {
    "ca": "crossplane-root-ca",
    "server": "crossplane-tls-server",
    "client": "crossplane-tls-client",
}


# The rules of crossplane:system:aggregate-to-crossplane, Crossplane's own ClusterRole, as
# crossplane v2.3.4 cluster/charts/crossplane/templates/clusterrole.yaml writes them.
_CHART_RULES: list[JSON] = yaml.safe_load("""
- apiGroups: [""]
  resources: [events]
  verbs: [create, update, patch, delete]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions, customresourcedefinitions/status]
  verbs: ["*"]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [serviceaccounts, services]
  verbs: ["*"]
- apiGroups: [apiextensions.crossplane.io, ops.crossplane.io, pkg.crossplane.io,
    protection.crossplane.io]
  resources: ["*"]
  verbs: ["*"]
- apiGroups: [extensions, apps]
  resources: [deployments]
  verbs: [get, list, create, update, patch, delete, watch]
- apiGroups: ["", coordination.k8s.io]
  resources: [configmaps, leases]
  verbs: [get, list, create, update, patch, watch, delete]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  verbs: [get, list, create, update, patch, watch, delete]
""")


# ---------------------------------------------------------------- certificates


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


# The lastTransitionTime the simulated providers stamp on conditions that have none.
PROVIDER_TIME = "2024-01-01T00:00:00Z"


class PKI:
    """One CA and the certificates signed by it, in a directory (openssl)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        # PKCS#1 ("-traditional"): the only CA key format Crossplane's initializer parses.
        _openssl("genrsa", "-traditional", "-out", "ca.key", "2048", cwd=self.dir)
        _openssl(
            "req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=e2e-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=self.dir,
        )  # fmt: skip
        self.ca_crt, self.ca_key = self.dir / "ca.crt", self.dir / "ca.key"

    def issue(self, name: str, common_name: str, dns: Sequence[str] = ()) -> tuple[Path, Path]:
        """(cert, key) for 127.0.0.1 and `dns`, good for serving and as a client."""
        sans = ",".join(["IP:127.0.0.1", "DNS:localhost", *(f"DNS:{d}" for d in dns)])
        ext = self.dir / f"{name}.ext"
        ext.write_text(
            f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n"
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        )
        _openssl("genrsa", "-traditional", "-out", f"{name}.key", "2048", cwd=self.dir)
        _openssl(
            "req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={common_name}", cwd=self.dir,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext.name,
            cwd=self.dir,
        )  # fmt: skip
        return self.dir / f"{name}.crt", self.dir / f"{name}.key"

    def bundle(self, name: str, common_name: str, directory: Path) -> Path:
        """A dir with tls.crt, tls.key and ca.crt: what core and the SDK load."""
        crt, key = self.issue(name, common_name)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "tls.crt").write_bytes(crt.read_bytes())
        (directory / "tls.key").write_bytes(key.read_bytes())
        (directory / "ca.crt").write_bytes(self.ca_crt.read_bytes())
        return directory


# ---------------------------------------------------------------- the control plane


def kubeconfig(path: Path, server: str, ca: Path, user: str, token: str) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "e2e", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


class ControlPlane:
    """Starts everything in `workdir`; `api` is a dynamic client as the cluster admin."""

    def __init__(self, workdir: Path, root: Path = ROOT, python: str | None = None) -> None:
        self.root = root
        self.dir = workdir
        self.python = python
        self.processes: list[process.Process] = []
        self.function: FunctionServer | None = None
        self._api: dynamic.DynamicClient | None = None

    # ------------------------------------------------------------ processes

    def _start(
        self,
        name: str,
        cmd: Sequence[str],
        ready: Callable[[], bool],
        timeout: float = 90,
        kubeconfig_path: Path | None = None,
    ) -> process.Process:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig_path)} if kubeconfig_path else None
        proc = process.start(name, cmd, log_path=self.dir / f"{name}.log", cwd=self.dir, env=env)
        self.processes.append(proc)
        process.wait_until(ready, timeout, name, proc)
        return proc

    def logs(self, lines: int = 30) -> str:
        procs = [
            *self.processes,
            *([self.function.process] if self.function and self.function.process else []),
        ]
        return "".join(p.log_tail(lines) for p in procs)

    def start(self) -> ControlPlane:
        self.start_api_server()
        self._start_controller_manager()
        self._install_crossplane()
        self._start_function()
        return self

    def start_api_server(self) -> ControlPlane:
        """etcd and kube-apiserver only: enough for admission (CRDs, policies, dry runs)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pki = PKI(self.dir / "pki")
        self._start_etcd()
        self._start_apiserver()
        return self

    def stop(self) -> None:
        if self.function is not None:
            self.function.stop()
        for proc in reversed(self.processes):
            proc.stop()

    def __enter__(self) -> ControlPlane:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_etcd(self) -> None:
        port, peer = process.free_port(), process.free_port()
        self.etcd_url = f"http://127.0.0.1:{port}"
        self._start(
            "etcd",
            [
                str(go_tool("etcd", self.root)),
                "--data-dir", str(self.dir / "etcd"),
                "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync", "--log-level", "warn",
            ],
            lambda: process.port_open("127.0.0.1", port),
        )  # fmt: skip

    def _start_apiserver(self) -> None:
        crt, key = self.pki.issue("apiserver", "kube-apiserver", ["kubernetes.default.svc"])
        _openssl("genrsa", "-out", "sa.key", "2048", cwd=self.pki.dir)
        _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=self.pki.dir)
        admin_token, core_token = "e2e-admin-token", "e2e-crossplane-token"
        tokens = self.dir / "tokens.csv"
        tokens.write_text(
            f'{admin_token},{ADMIN},{ADMIN},"system:masters"\n{core_token},{CORE_USER},{CORE_USER}\n'
        )
        port = process.free_port()
        self.server = f"https://127.0.0.1:{port}"
        self.admin_kubeconfig = kubeconfig(
            self.dir / "admin.kubeconfig", self.server, self.pki.ca_crt, ADMIN, admin_token
        )
        self.core_kubeconfig = kubeconfig(
            self.dir / "crossplane.kubeconfig", self.server, self.pki.ca_crt, CORE_USER, core_token
        )
        self._start(
            "kube-apiserver",
            [
                str(go_tool("kube-apiserver", self.root)),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--tls-cert-file={crt}", f"--tls-private-key-file={key}",
                f"--client-ca-file={self.pki.ca_crt}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={self.pki.dir / 'sa.pub'}",
                f"--service-account-signing-key-file={self.pki.dir / 'sa.key'}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.0.0.0/24",
            ],
            self._readyz,
            timeout=120,
        )  # fmt: skip

    def _readyz(self) -> bool:
        try:
            self.api.request("get", "/readyz")
        except Exception:  # not up yet, or not ready
            self._api = None
            return False
        return True

    def _start_controller_manager(self) -> None:
        # No kubelet, so no workload controllers: only what deleting an XR and aggregating
        # Crossplane's ClusterRole need (Crossplane leaves composed resources to the garbage
        # collector: it only removes the XR's finalizer).
        self._start(
            "kube-controller-manager",
            [
                str(go_tool("kube-controller-manager", self.root)),
                f"--kubeconfig={self.admin_kubeconfig}",
                "--controllers=garbagecollector,namespace,clusterrole-aggregation",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={process.free_port()}",
            ],
            lambda: True,
        )

    # ------------------------------------------------------------ Crossplane

    def _install_crossplane(self) -> None:
        self.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CROSSPLANE_NAMESPACE}}
        )
        self._crossplane_rbac()
        server_dir = self.pki.bundle("core-server", "crossplane-webhooks", self.dir / "core-server")
        client_dir = self.pki.bundle("core-client", "crossplane", self.dir / "core-client")
        for role, name in TLS_SECRETS.items():
            if role == "ca":
                files = {"tls.crt": self.pki.ca_crt, "tls.key": self.pki.ca_key}
            else:
                d = server_dir if role == "server" else client_dir
                files = {f: d / f for f in ("tls.crt", "tls.key", "ca.crt")}
            self.apply(
                _secret(name, CROSSPLANE_NAMESPACE, {k: p.read_bytes() for k, p in files.items()})
            )
        core = str(go_tool("crossplane-core", self.root))
        empty = self.dir / "no-webhook-configurations"
        empty.mkdir(exist_ok=True)
        init = [
            core, "core", "init",
            f"--cr-ds-path={shared_dir(self.root) / 'crds' / 'crossplane'}",
            f"--webhook-configurations-path={empty}",
            f"--tlsca-secret-name={TLS_SECRETS['ca']}",
            f"--tls-server-secret-name={TLS_SECRETS['server']}",
            f"--tls-client-secret-name={TLS_SECRETS['client']}",
            "--webhook-service-name=crossplane-webhooks",
            f"--webhook-service-namespace={CROSSPLANE_NAMESPACE}",
            "--webhook-service-port=9443",
        ]  # fmt: skip
        env = {"KUBECONFIG": str(self.admin_kubeconfig), "POD_NAMESPACE": CROSSPLANE_NAMESPACE}
        _retry_command(init, env, self.dir / "crossplane-init.log")
        webhook_port = process.free_port()
        self._usage_webhook(webhook_port)
        self.core_probe = process.free_port()
        self._start(
            "crossplane",
            [
                core, "core", "start",
                "--package-runtime=External",
                f"--tls-server-certs-dir={server_dir}", f"--tls-client-certs-dir={client_dir}",
                f"--xpkg-cache-dir={self.dir / 'xpkg'}", f"--xfn-cache-dir={self.dir / 'xfn'}",
                f"--webhook-port={webhook_port}",
                f"--metrics-port={process.free_port()}", f"--health-probe-port={self.core_probe}",
                "--poll-interval=5s",
            ],
            lambda: process.port_open("127.0.0.1", webhook_port),
            timeout=120,
            kubeconfig_path=self.core_kubeconfig,
        )  # fmt: skip

    def _crossplane_rbac(self) -> None:
        """Crossplane core runs as its own user, bound to its aggregated ClusterRole.

        The rules are those of the Crossplane chart at v2.3.4
        (cluster/charts/crossplane/templates/clusterrole.yaml): the base role
        crossplane:system:aggregate-to-crossplane and the aggregating `crossplane` role, to
        which each XRD's role (`aggregate_to_crossplane`) and install/crossplane-rbac.yaml (what
        the function composes) are added. So a composed kind missing from the latter fails.
        """
        aggregate = {"rbac.crossplane.io/aggregate-to-crossplane": "true"}
        rbac = "rbac.authorization.k8s.io"
        for doc in (
            _cluster_role("crossplane:system:aggregate-to-crossplane", _CHART_RULES, aggregate),
            {
                **_cluster_role("crossplane", []),
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": aggregate}]},
            },
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "crossplane"},
                "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "crossplane"},
                "subjects": [{"apiGroup": rbac, "kind": "User", "name": CORE_USER}],
            },
        ):
            self.apply(doc)

    def _usage_webhook(self, port: int) -> None:
        """Crossplane's Usage webhook, pointed at core on loopback.

        As crossplane v2.3.4 cluster/webhookconfigurations/usage.yaml (which `core init`
        would point at a Service; with no kube-proxy a URL is what reaches core): it refuses to
        delete anything labelled in use while a Usage names it.
        """
        self.apply(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "crossplane-no-usages"},
                "webhooks": [
                    {
                        "name": "nousages.protection.crossplane.io",
                        "admissionReviewVersions": ["v1"],
                        "clientConfig": {
                            "url": f"https://127.0.0.1:{port}/validate-no-usages",
                            "caBundle": base64.b64encode(self.pki.ca_crt.read_bytes()).decode(),
                        },
                        "failurePolicy": "Fail",
                        "objectSelector": {"matchLabels": {"crossplane.io/in-use": "true"}},
                        "rules": [
                            {
                                "apiGroups": ["*"],
                                "apiVersions": ["*"],
                                "operations": ["DELETE"],
                                "resources": ["*"],
                            }
                        ],
                        "sideEffects": "None",
                    }
                ],
            }
        )

    def _start_function(self) -> None:
        certs = self.pki.bundle("function", FUNCTION_NAME, self.dir / "function-certs")
        self.function = FunctionServer(
            self.root, python=self.python, log_path=self.dir / "function.log", tls_certs_dir=certs
        ).start()
        package = RELEASE.reference(release.FUNCTION)
        paused = {"crossplane.io/paused": "true"}
        self.apply(
            {
                "apiVersion": "pkg.crossplane.io/v1",
                "kind": "Function",
                "metadata": {"name": FUNCTION_NAME, "annotations": paused},
                "spec": {"package": package},
            }
        )
        revision = {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "FunctionRevision",
            "metadata": {
                "name": f"{FUNCTION_NAME}-e2e",
                "annotations": paused,
                "labels": {"pkg.crossplane.io/package": FUNCTION_NAME},
            },
            "spec": {"desiredState": "Active", "image": package, "revision": 1},
        }
        self.apply(revision)
        # What the revision controller would copy from the package's metadata: core refuses a
        # pipeline step whose function lacks the capability.
        meta = load_yaml_docs(self.root / "package" / "crossplane.yaml")[0]
        self.patch_status(
            revision,
            {
                "endpoint": f"dns:///{self.function.target}",
                "capabilities": meta["spec"].get("capabilities", []),
            },
        )

    # ------------------------------------------------------------ API

    @property
    def api(self) -> dynamic.DynamicClient:
        if self._api is None:
            # The kubernetes client is untyped at its entry points.
            cfg = kclient.Configuration()
            kconfig.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(self.admin_kubeconfig), client_configuration=cfg
            )
            self._api = dynamic.DynamicClient(  # type: ignore[no-untyped-call]
                kclient.ApiClient(cfg), cache_file=str(self.dir / "discovery.json")
            )
        return self._api

    def rediscover(self) -> None:
        """Forget discovery, after new CRDs are served."""
        self.api.resources.invalidate_cache()

    def resource(self, api_version: str, kind: str) -> Any:
        try:
            return self.api.resources.get(api_version=api_version, kind=kind)
        except Exception:
            self.rediscover()
            return self.api.resources.get(api_version=api_version, kind=kind)

    def apply(self, doc: JSON) -> JSON:
        """Server-side apply as the admin."""
        res = self.resource(doc["apiVersion"], doc["kind"])
        meta = doc["metadata"]
        out = res.server_side_apply(
            body=doc,
            name=meta["name"],
            namespace=meta.get("namespace") if res.namespaced else None,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )
        return dict(out.to_dict())

    def create(self, doc: JSON) -> JSON:
        """POST doc as the admin."""
        res = self.resource(doc["apiVersion"], doc["kind"])
        namespace = doc["metadata"].get("namespace") if res.namespaced else None
        return dict(res.create(body=doc, namespace=namespace).to_dict())

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        res = self.resource(api_version, kind)
        try:
            return dict(
                res.get(name=name, namespace=namespace if res.namespaced else None).to_dict()
            )
        except NotFoundError:
            return None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, labels: str = ""
    ) -> list[JSON]:
        """Objects of the kind (in namespace; matching the label selector labels, if any)."""
        res = self.resource(api_version, kind)
        found = res.get(namespace=namespace, label_selector=labels or None)
        return [dict(i.to_dict()) for i in found.items]

    def patch_status(self, doc: JSON, status: JSON) -> None:
        """Merge-patch status through the status subresource, as a provider writes it.

        A provider stamps every condition with its lastTransitionTime (most CRDs require
        it); an example's observed status may leave it out, as the render does not care.
        """
        res = self.resource(doc["apiVersion"], doc["kind"])
        meta = doc["metadata"]
        conditions = status.get("conditions")
        if isinstance(conditions, list):
            status = status | {
                "conditions": [
                    {"lastTransitionTime": PROVIDER_TIME} | c if isinstance(c, dict) else c
                    for c in conditions
                ]
            }
        res.status.patch(
            body={"status": status},
            name=meta["name"],
            namespace=meta.get("namespace") if res.namespaced else None,
            content_type="application/merge-patch+json",
        )

    def delete(self, doc: JSON) -> None:
        res = self.resource(doc["apiVersion"], doc["kind"])
        meta = doc["metadata"]
        with contextlib.suppress(NotFoundError):
            res.delete(
                name=meta["name"], namespace=meta.get("namespace") if res.namespaced else None
            )

    def wait_established(self, crds: Sequence[str]) -> None:
        """Wait until every named CRD is Established (served)."""

        def established() -> bool:
            for name in crds:
                crd = self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
                conds = ((crd or {}).get("status") or {}).get("conditions") or []
                if not any(c["type"] == "Established" and c["status"] == "True" for c in conds):
                    return False
            return True

        process.wait_until(established, 120, f"CRDs {', '.join(crds)} established")
        self.rediscover()


def _secret(name: str, namespace: str, data: dict[str, bytes]) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def aggregate_to_crossplane(xrd: JSON) -> JSON:
    """The ClusterRole Crossplane's RBAC manager makes for an XRD so core may serve its XRs.

    As crossplane v2.3.4 internal/controller/rbac/definition/roles.go (RenderClusterRoles,
    the "system" role). The RBAC manager itself is not run: its metrics server always binds
    :8080, which a shared machine cannot promise.
    """
    group, plural = xrd["spec"]["group"], xrd["spec"]["names"]["plural"]
    return _cluster_role(
        f"crossplane:composite:{xrd['metadata']['name']}:aggregate-to-crossplane",
        [
            {"apiGroups": [group], "resources": [plural, f"{plural}/status"], "verbs": ["*"]},
            {"apiGroups": [group], "resources": [f"{plural}/finalizers"], "verbs": ["update"]},
        ],
        {"rbac.crossplane.io/aggregate-to-crossplane": "true"},
    )


def _cluster_role(name: str, rules: list[JSON], labels: dict[str, str] | None = None) -> JSON:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels or {}},
        "rules": rules,
    }


def _retry_command(cmd: Sequence[str], env: dict[str, str], log: Path, attempts: int = 5) -> None:
    """Run cmd until it exits 0: `core init` fails while the CRDs it just made are not served."""
    for attempt in range(1, attempts + 1):
        result = subprocess.run(
            list(cmd), env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
        with log.open("a") as f:
            f.write(result.stdout + result.stderr)
        if result.returncode == 0:
            return
        if attempt == attempts:
            raise RuntimeError(f"{cmd[0]} {' '.join(cmd[1:3])} failed:\n{result.stderr[-3000:]}")
        time.sleep(2)


def crd_names(paths: Sequence[Path]) -> list[str]:
    return [d["metadata"]["name"] for p in paths for d in load_yaml_docs(p)]


@contextlib.contextmanager
def running(workdir: Path, python: str | None = None) -> Iterator[ControlPlane]:
    with ControlPlane(workdir, python=python) as plane:
        yield plane


__all__ = ["ControlPlane", "crd_names", "running", "split_api_version"]
