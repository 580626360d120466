"""A real control plane on loopback, no Docker: etcd, kube-apiserver, kube-controller-manager,
an OCI registry, Crossplane core and its RBAC manager, provider-kubernetes, and this project's
function served with mTLS.

Used by the control-plane e2e test (tests/controlplane, `make e2e`). Every binary is the real
one at its pinned version (`make e2e-tools`); the kubelet and every provider but
provider-kubernetes are missing, so the test writes those managed resources' status itself.

The platform is installed as docs/install.md has a user install it: the packages `make
package` built are pushed to the registry and the kustomization of install/ is applied
(harness/installation.py); Crossplane's package manager pulls them (trusting the registry's
CA through --ca-bundle-path), establishes the XRDs, Compositions and the input CRD, and makes
the function's Service, TLS server Secret and Deployment. With no kubelet the Deployment has
no pods: the function runs as a process here instead, serving the endpoint core derives for
the FunctionRevision with the certificate core issued for it (see _start_function).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import random
import re
import socket
import subprocess
import sys
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
from harness import installation, netns, process, registry
from harness.cases import JSON, load_yaml_docs, split_api_version
from harness.paths import ROOT, go_tool, shared_dir
from harness.server import FunctionServer

# The release the packages are built for (generate/release.py).
RELEASE = release.default()
CROSSPLANE_NAMESPACE = "crossplane-system"
FIELD_MANAGER = "e2e"
ADMIN = "e2e-admin"
# Secrets `crossplane core init` fills, and reuses when they already hold a certificate
# (crossplane v2.3.4 internal/initializer/tls.go): the harness writes them from one CA of its
# own, so core's webhook server, its client certificate and the function's server
# certificate can all carry the loopback address.
# The gRPC port core derives for every function (crossplane v2.3.4
# internal/controller/pkg/runtime/runtime.go GRPCPort).
FUNCTION_PORT = 9443
TLS_SECRETS = {
    "ca": "crossplane-root-ca",
    "server": "crossplane-tls-server",
    "client": "crossplane-tls-client",
}


# What of Crossplane's chart the control plane applies: its ServiceAccounts and RBAC. Its
# Deployments have no kubelet to run them (core and the RBAC manager run as processes here, as
# those ServiceAccounts) and its Secrets and Service are what `core init` fills (TLS_SECRETS).
CHART_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
CORE_SA, RBAC_MANAGER_SA = "crossplane", "rbac-manager"
# The function's ServiceAccount (install/packages.yaml's DeploymentRuntimeConfig).
FUNCTION_SA = "function-platform"
# The providers that run for real, by the API group of their managed resources; every other
# composed kind's status is written by the test (tests/controlplane/cluster.py).
PROVIDER_KUBERNETES = "provider-kubernetes"
PROVIDER_KUBERNETES_MODULE = "github.com/crossplane-contrib/provider-kubernetes"
REAL_PROVIDERS = {"kubernetes.m.crossplane.io": PROVIDER_KUBERNETES}
# Core's --poll-interval here: how often it reconciles each XR again. The chart leaves
# core's default, 1m (crossplane v2.3.4 cmd/crossplane/core/core.go PollInterval); 5s
# keeps a run short, and each poll is the same full reconcile.
POLL_INTERVAL_SECONDS = 5


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


def kubeconfig(
    path: Path,
    server: str,
    ca: Path,
    user: str,
    *,
    token: str = "",
    cert: tuple[Path, Path] | None = None,
) -> Path:
    """A kubeconfig for `user`: a bearer token, or a client certificate and key."""
    creds = {"token": token}
    if cert:
        creds = {"client-certificate": str(cert[0]), "client-key": str(cert[1])}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            # The CA inline: provider-kubernetes reads a kubeconfig from a Secret, where a
            # file path would name nothing.
            {
                "name": "e2e",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


class ControlPlane:
    """Starts everything in `workdir`; `api` is a dynamic client as the cluster admin."""

    def __init__(
        self,
        workdir: Path,
        root: Path = ROOT,
        python: str | None = None,
        core_args: Sequence[str] = (),
        poll_interval: str = f"{POLL_INTERVAL_SECONDS}s",
    ) -> None:
        self.root = root
        self.dir = workdir
        self.python = python
        # Flags added to `core start` (harness/loop.py: the function response cache).
        self.core_args = list(core_args)
        self.poll_interval = poll_interval
        # Further Service hosts core resolves to a loopback address (map_host).
        self.hosts: dict[str, str] = {}
        self._core_starts = 0
        self.processes: list[process.Process] = []
        self.function: FunctionServer | None = None
        self._api: dynamic.DynamicClient | None = None
        self._users: dict[str, dynamic.DynamicClient] = {}
        self.timings: dict[str, float] = {}
        # Where the function serves: a loopback address of its own, so the gRPC port core
        # derives for every function (9443) is free there whatever else runs on the machine.
        self.function_address = free_loopback_address(FUNCTION_PORT)

    # ------------------------------------------------------------ processes

    def _start(
        self,
        name: str,
        cmd: Sequence[str],
        ready: Callable[[], bool],
        *,
        timeout: float = 90,
        kubeconfig_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> process.Process:
        env = {**os.environ, **(env or {})}
        if kubeconfig_path:
            env["KUBECONFIG"] = str(kubeconfig_path)
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
        with self.timed("kube-controller-manager"):
            self._start_controller_manager()
        with self.timed("registry: start, push the packages"):
            self._start_registry()
        with self.timed("kustomize build of install/"):
            self.install_docs = self._build_installation()
        with self.timed("Crossplane core and RBAC manager"):
            self._install_crossplane()
        with self.timed("packages installed, function serving"):
            for doc in self.install_docs:
                self.apply(doc)
            self._start_function()
        with self.timed("provider-kubernetes"):
            self._start_provider_kubernetes()
        return self

    def start_api_server(self) -> ControlPlane:
        """etcd and kube-apiserver only: enough for admission (CRDs, policies, dry runs)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.timed("certificates"):
            self.pki = PKI(self.dir / "pki")
        with self.timed("etcd, kube-apiserver"):
            self._start_etcd()
            self._start_apiserver()
        return self

    def start_core_alone(self) -> ControlPlane:
        """Crossplane core beside start_api_server's etcd and kube-apiserver, as the admin,
        without webhooks, packages or the function: its XRD controller makes and establishes
        the CRD of every XRD applied, as in a real cluster.

        `core init` makes its own CRDs; with --webhook-enabled=false neither it nor `core
        start` needs a server certificate, and start still loads its client certificate
        (crossplane v2.3.4 cmd/crossplane/core/init.go, core.go).
        """
        self.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CROSSPLANE_NAMESPACE}}
        )
        client_dir = self.pki.bundle("core-client", "crossplane", self.dir / "core-client")
        core = str(go_tool("crossplane-core", self.root))
        env = {"KUBECONFIG": str(self.admin_kubeconfig), "POD_NAMESPACE": CROSSPLANE_NAMESPACE}
        no_webhooks = "--webhook-enabled=false"
        init = [
            core, "core", "init", no_webhooks,
            f"--cr-ds-path={shared_dir(self.root) / 'crds' / 'crossplane'}",
            f"--tlsca-secret-name={TLS_SECRETS['ca']}",
            f"--tls-client-secret-name={TLS_SECRETS['client']}",
        ]  # fmt: skip
        _retry_command(init, env, self.dir / "crossplane-init.log")
        probe = process.free_port()
        self._start(
            "crossplane",
            [
                core, "core", "start", no_webhooks,
                f"--tls-client-certs-dir={client_dir}",
                f"--xpkg-cache-dir={self.dir / 'xpkg'}", f"--xfn-cache-dir={self.dir / 'xfn'}",
                f"--metrics-port={process.free_port()}", f"--health-probe-port={probe}",
            ],
            lambda: process.port_open("127.0.0.1", probe),
            timeout=120,
            kubeconfig_path=self.admin_kubeconfig,
            env={"POD_NAMESPACE": CROSSPLANE_NAMESPACE},
        )  # fmt: skip
        return self

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the time the block takes to `timings[phase]` (the e2e prints the budget)."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.monotonic() - start

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
        admin_token = "e2e-admin-token"
        tokens = self.dir / "tokens.csv"
        tokens.write_text(f'{admin_token},{ADMIN},{ADMIN},"system:masters"\n')
        port = process.free_port()
        self.server = f"https://127.0.0.1:{port}"
        self.admin_kubeconfig = kubeconfig(
            self.dir / "admin.kubeconfig", self.server, self.pki.ca_crt, ADMIN, token=admin_token
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
                # pvc-protection: the API server gives every claim its finalizer, and this
                # controller removes it once no pod uses the claim.
                "--controllers=garbagecollector,namespace,clusterrole-aggregation,pvc-protection",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={process.free_port()}",
            ],
            lambda: True,
        )

    # ------------------------------------------------------------ packages

    def _start_registry(self) -> None:
        """The registry, holding every package `make package` built, pushed as docs/install.md
        pushes them, under the mirror's host."""
        crt, key = self.pki.issue("registry", "registry")
        proc, self.registry_host = registry.start(self.dir / "registry", crt, key, self.root)
        self.processes.append(proc)
        package_dir = Path(os.environ.get("PACKAGE_OUT") or self.root / "build" / "package")
        prefix = installation.mirrored(RELEASE.registry, self.registry_host)
        for repo, files in registry.package_files(package_dir, RELEASE.version).items():
            registry.push(
                go_tool("crossplane", self.root),
                files,
                f"{prefix}{repo}:{RELEASE.version}",
                self.pki.ca_crt,
                self.dir / "registry" / "push.log",
            )

    def _build_installation(self) -> list[JSON]:
        """The objects the user's kustomization of install/ holds (harness/installation.py),
        with the examples' password key."""
        credentials = load_yaml_docs(self.root / "examples" / "credentials.yaml")[0]
        directory = installation.kustomization(
            self.root,
            self.dir / "installation",
            credentials["stringData"]["password-key"],
            installation.mirror(RELEASE.registry, self.registry_host),
        )
        return installation.build(self.root, directory.parent)

    @property
    def function_name(self) -> str:
        """The Function object install/ creates."""
        (fn,) = [d for d in self.install_docs if d["kind"] == "Function"]
        return str(fn["metadata"]["name"])

    @property
    def function_host(self) -> str:
        """The host of the endpoint core derives: the Service it makes for the function,
        named after the package (crossplane v2.3.4 internal/controller/pkg/runtime
        runtime.go Service, runtime_function.go ServiceEndpointFmt)."""
        return f"{self.function_name}.{CROSSPLANE_NAMESPACE}"

    # ------------------------------------------------------------ Crossplane

    def _install_crossplane(self) -> None:
        self.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CROSSPLANE_NAMESPACE}}
        )
        for doc in self._crossplane_chart():
            self.apply(doc)
        core_kubeconfig = self._service_account_kubeconfig(CORE_SA)
        self._start_rbac_manager()
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
        env = {"KUBECONFIG": str(core_kubeconfig), "POD_NAMESPACE": CROSSPLANE_NAMESPACE}
        _retry_command(init, env, self.dir / "crossplane-init.log")
        webhook_port = process.free_port()
        self._usage_webhook(webhook_port)
        # Core caches the packages it pulls there and fails to parse one it cannot cache.
        (self.dir / "xpkg").mkdir(exist_ok=True)
        self.core_probe = process.free_port()
        self.core_metrics_port = process.free_port()
        self._core_cmd = [
            *self._with_function_host(),
            core, "core", "start",
            f"--ca-bundle-path={self.pki.ca_crt}",
            f"--tls-server-certs-dir={server_dir}", f"--tls-client-certs-dir={client_dir}",
            f"--xpkg-cache-dir={self.dir / 'xpkg'}",
            f"--webhook-port={webhook_port}",
            f"--metrics-port={self.core_metrics_port}", f"--health-probe-port={self.core_probe}",
            f"--poll-interval={self.poll_interval}",
            # Operations are an alpha feature, off by default (crossplane v2.3.4
            # cmd/crossplane/core/core.go EnableOperations): install/components'
            # CronOperations need it, as docs/install.md says.
            "--enable-operations",
        ]  # fmt: skip
        self._core_ready = lambda: process.port_open("127.0.0.1", webhook_port)
        self._core_kubeconfig = core_kubeconfig
        self._start_core()

    def _start_core(self) -> None:
        # A new response cache directory for every start: what core kept before is not reused.
        self._core_starts += 1
        xfn = self.dir / f"xfn-{self._core_starts}"
        xfn.mkdir(exist_ok=True)
        self.core = self._start(
            "crossplane",
            [*self._core_cmd, f"--xfn-cache-dir={xfn}", *self.core_args],
            self._core_ready,
            timeout=120,
            kubeconfig_path=self._core_kubeconfig,
        )

    def restart_core(self, core_args: Sequence[str]) -> None:
        """Stop Crossplane core and start it again with `core_args` instead of the last ones."""
        self.core.stop()
        self.processes.remove(self.core)
        self.core_args = list(core_args)
        self._start_core()

    def _with_function_host(self) -> list[str]:
        """A command prefix: run in a mount namespace of its own where /etc/hosts also maps the
        function's Service name to the function's loopback address.

        Core dials `dns:///<Function>.crossplane-system:9443`, the headless Service it made for
        the function's pods. Here there is no cluster DNS and no pods; this mapping, seen by
        core alone (the machine's /etc/hosts is untouched), is the one shortcut between the
        endpoint core derives and the process serving it. Nothing is patched into the
        FunctionRevision. Needs root (unshare, mount), as `make package` does.
        """
        self.hosts[self.function_host] = self.function_address
        hosts = self._write_hosts()
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(hosts)]

    def _write_hosts(self) -> Path:
        """The hosts file core sees: the machine's and `hosts`, rewritten in place (the
        same file stays bind-mounted over core's /etc/hosts)."""
        hosts = self.dir / "hosts"
        mapped = "".join(f"{address} {host}\n" for host, address in sorted(self.hosts.items()))
        hosts.write_text(Path("/etc/hosts").read_text() + mapped)
        return hosts

    def map_host(self, host: str, address: str) -> None:
        """Have core resolve `host` (another function's Service) to `address`."""
        self.hosts[host] = address
        self._write_hosts()

    def _crossplane_chart(self) -> list[JSON]:
        """The ServiceAccounts and RBAC of Crossplane's chart (crossplane_chart_rbac)."""
        return crossplane_chart_rbac(self.root)

    def service_account_token(self, name: str) -> str:
        """A token of the ServiceAccount in crossplane-system (TokenRequest), as a pod mounts."""
        request = kclient.AuthenticationV1TokenRequest(
            spec=kclient.V1TokenRequestSpec(audiences=[], expiration_seconds=48 * 3600)
        )
        core = kclient.CoreV1Api(self.api.client)
        answer = core.create_namespaced_service_account_token(name, CROSSPLANE_NAMESPACE, request)
        assert answer.status is not None
        return str(answer.status.token)

    def _service_account_kubeconfig(self, name: str) -> Path:
        """A kubeconfig with a token of the ServiceAccount, as a pod mounts."""
        return kubeconfig(
            self.dir / f"{name}.kubeconfig",
            self.server,
            self.pki.ca_crt,
            name,
            token=self.service_account_token(name),
        )

    def service_account_user(self, name: str) -> str:
        """The user name of the ServiceAccount of crossplane-system, for `user=`: requests
        then carry a token of that account, as its pods' would."""
        key = f"system:serviceaccount:{CROSSPLANE_NAMESPACE}:{name}"
        if key not in self._users:
            config = self._service_account_kubeconfig(name)
            self._users[key] = _dynamic_client(config, self.dir / f"discovery-sa-{name}.json")
        return key

    def _start_rbac_manager(self) -> None:
        """`crossplane rbac start` of the core binary, with the chart's args, as its
        ServiceAccount, in a network namespace of its own: its metrics server binds :8080,
        which no flag moves (harness/netns.py)."""
        self._start_isolated(
            "crossplane-rbac-manager",
            [str(go_tool("crossplane-core", self.root)), "rbac", "start",
             "--provider-clusterrole=crossplane:allowed-provider-permissions"],
            self._service_account_kubeconfig(RBAC_MANAGER_SA),
            {},
        )  # fmt: skip

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
        """Serve the function where core dials the installed FunctionRevision.

        What a pod of the Deployment core made would do: serve gRPC on the endpoint's port with
        the TLS server certificate core issued for the revision (its tlsServerSecretName,
        which a pod mounts at /tls/server), requiring core's client certificate.
        """
        certs = self.dir / "function-certs"
        port = self.function_endpoint(self.function_name, self.function_host, certs)
        self.function = FunctionServer(
            self.root,
            python=self.python,
            log_path=self.dir / "function.log",
            tls_certs_dir=certs,
            host=self.function_address,
            port=port,
            wrapper=self._in_cluster_identity(),
        ).start()

    def function_endpoint(self, function: str, host: str, certs: Path) -> int:
        """The port core dials the Function's Active revision on, once it has one, and the
        TLS server certificate core issued for it, written to `certs` (tls.crt, tls.key,
        ca.crt: what a pod mounts at /tls/server)."""
        revision, secret = poll(
            functools.partial(self.active_function_revision, function),
            180,
            f"an Active FunctionRevision of {function} with an endpoint",
        )
        endpoint = revision["status"]["endpoint"]
        dialed, _, port = endpoint.removeprefix("dns:///").rpartition(":")
        if dialed != host:
            raise RuntimeError(f"core dials {endpoint}; /etc/hosts maps {host}")
        certs.mkdir(exist_ok=True)
        for key in ("tls.crt", "tls.key", "ca.crt"):
            (certs / key).write_bytes(base64.b64decode(secret["data"][key]))
        return int(port)

    def _in_cluster_identity(self) -> list[str]:
        """A command prefix giving the function what a pod of its Deployment has: the API
        server's address in KUBERNETES_SERVICE_HOST/PORT and its ServiceAccount's token and
        the cluster CA at /var/run/secrets/kubernetes.io/serviceaccount (the remove-expired
        Operation deletes XRs as that account, function/expiry/kubeapi.py).

        The ServiceAccount is the one install/packages.yaml's DeploymentRuntimeConfig names.
        The files appear there only in a mount namespace of the function's own, on a tmpfs
        over /run (/var/run links to it), so the machine is untouched. Needs root.
        """
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": FUNCTION_SA, "namespace": CROSSPLANE_NAMESPACE},
            }
        )
        account = self.dir / "function-serviceaccount"
        account.mkdir(exist_ok=True)
        (account / "token").write_text(self.service_account_token(FUNCTION_SA))
        (account / "ca.crt").write_bytes(self.pki.ca_crt.read_bytes())
        host, _, port = self.server.removeprefix("https://").rpartition(":")
        target = "/run/secrets/kubernetes.io/serviceaccount"
        script = (
            f'mount -t tmpfs tmpfs /run && mkdir -p {target} && mount --bind "$0" {target} '
            '&& exec "$@"'
        )
        return [
            "env", f"KUBERNETES_SERVICE_HOST={host}", f"KUBERNETES_SERVICE_PORT={port}",
            "unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(account),
        ]  # fmt: skip

    def active_function_revision(self, function: str) -> tuple[JSON, JSON] | None:
        """The Active revision of the Function named `function` with core's endpoint, and
        its TLS server Secret once core has filled it."""
        for rev in self.list("pkg.crossplane.io/v1", "FunctionRevision"):
            labels = rev["metadata"].get("labels") or {}
            if labels.get("pkg.crossplane.io/package") != function:
                continue
            if rev["spec"].get("desiredState") != "Active":
                continue
            endpoint = (rev.get("status") or {}).get("endpoint")
            name = rev["spec"].get("tlsServerSecretName")
            secret = name and self.get("v1", "Secret", name, CROSSPLANE_NAMESPACE)
            if endpoint and secret and (secret.get("data") or {}).get("tls.crt"):
                return rev, secret
        return None

    # ------------------------------------------------------------ providers

    def _start_provider_kubernetes(self) -> None:
        """provider-kubernetes (tools/provider-kubernetes/go.mod's version) against this API
        server, configured as docs/install.md step 4 has a platform engineer do it.

        Its package is on a registry this machine cannot reach, so what installing it would
        do is done here: its CRDs are the package's own (package/crds of the Go module the
        binary is built from), and it runs as a ServiceAccount bound to cluster-admin, the
        usual grant for a provider applying arbitrary manifests. ClusterProviderConfig
        `default` (the name the Compositions use) reaches this cluster with a kubeconfig of
        that ServiceAccount. It runs in a network namespace of its own: its metrics (:8080)
        and webhook (:9443) ports are fixed (harness/netns.py).
        """
        crds = sorted(
            (go_module_dir(self.root, PROVIDER_KUBERNETES_MODULE) / "package" / "crds").glob(
                "*.yaml"
            )
        )
        for path in crds:
            for doc in load_yaml_docs(path):
                # Crossplane points a conversion webhook at the provider's Service when it
                # installs the package; with no Service routing here, none: only the legacy
                # cluster-scoped Object converts, and nothing here makes one.
                if (doc["spec"].get("conversion") or {}).get("strategy") == "Webhook":
                    doc["spec"]["conversion"] = {"strategy": "None"}
                self.apply(doc)
        self.wait_established(crd_names(crds))
        rbac = "rbac.authorization.k8s.io"
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": PROVIDER_KUBERNETES, "namespace": CROSSPLANE_NAMESPACE},
            }
        )
        self.apply({
            "apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": PROVIDER_KUBERNETES},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": PROVIDER_KUBERNETES,
                          "namespace": CROSSPLANE_NAMESPACE}],
        })  # fmt: skip
        config = self._service_account_kubeconfig(PROVIDER_KUBERNETES)
        secret = f"{PROVIDER_KUBERNETES}-kubeconfig"
        self.apply(_secret(secret, CROSSPLANE_NAMESPACE, {"kubeconfig": config.read_bytes()}))
        self.apply({
            "apiVersion": "kubernetes.m.crossplane.io/v1alpha1", "kind": "ClusterProviderConfig",
            "metadata": {"name": "default"},
            "spec": {"credentials": {"source": "Secret", "secretRef": {
                "namespace": CROSSPLANE_NAMESPACE, "name": secret, "key": "kubeconfig"}}},
        })  # fmt: skip
        certs = self.pki.bundle(
            PROVIDER_KUBERNETES, PROVIDER_KUBERNETES, self.dir / "provider-certs"
        )
        self._start_isolated(
            PROVIDER_KUBERNETES,
            [str(go_tool(PROVIDER_KUBERNETES, self.root))],
            config,
            {"TLS_SERVER_CERTS_DIR": str(certs)},
        )

    def _start_isolated(
        self, name: str, cmd: Sequence[str], config: Path, env: dict[str, str]
    ) -> None:
        """cmd as the kubeconfig's user, in a network namespace of its own that reaches this
        API server (harness/netns.py)."""
        sock = self.dir / f"{name}.sock"
        forward, isolated = netns.wrap(
            self.python or sys.executable, sock, self.server.removeprefix("https://"), cmd
        )
        env = {**env, "PYTHONPATH": str(self.root)}
        self._start(f"{name}-forward", forward, sock.exists, env=env)
        self._start(name, isolated, lambda: True, kubeconfig_path=config, env=env)

    # ------------------------------------------------------------ API

    @property
    def api(self) -> dynamic.DynamicClient:
        if self._api is None:
            self._api = _dynamic_client(self.admin_kubeconfig, self.dir / "discovery.json")
        return self._api

    def user_api(self, user: str) -> dynamic.DynamicClient:
        """A client authenticated as `user` (no groups) by a client certificate of the CA
        the API server trusts (--client-ca-file): the common name is the user name."""
        if user not in self._users:
            name = re.sub(r"[^a-z0-9-]", "-", user)
            cert = self.pki.issue(f"user-{name}", user)
            config = kubeconfig(
                self.dir / f"user-{name}.kubeconfig", self.server, self.pki.ca_crt, user, cert=cert
            )
            self._users[user] = _dynamic_client(config, self.dir / f"discovery-{name}.json")
        return self._users[user]

    def rediscover(self) -> None:
        """Forget discovery, after new CRDs are served."""
        self.api.resources.invalidate_cache()

    def resource(self, api_version: str, kind: str, user: str | None = None) -> Any:
        api = self.user_api(user) if user else self.api
        try:
            return api.resources.get(api_version=api_version, kind=kind)
        except Exception:
            api.resources.invalidate_cache()
            return api.resources.get(api_version=api_version, kind=kind)

    def apply(self, doc: JSON, user: str | None = None) -> JSON:
        """Server-side apply, as the admin or as `user`."""
        res = self.resource(doc["apiVersion"], doc["kind"], user)
        meta = doc["metadata"]
        out = res.server_side_apply(
            body=doc,
            name=meta["name"],
            namespace=meta.get("namespace") if res.namespaced else None,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )
        return dict(out.to_dict())

    def create(self, doc: JSON, user: str | None = None) -> JSON:
        """POST doc, as the admin or as `user`."""
        res = self.resource(doc["apiVersion"], doc["kind"], user)
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

    def patch(self, doc: JSON, body: JSON) -> None:
        """Merge-patch the object, as a controller other than its owner fills fields in."""
        res = self.resource(doc["apiVersion"], doc["kind"])
        meta = doc["metadata"]
        res.patch(
            body=body,
            name=meta["name"],
            namespace=meta.get("namespace") if res.namespaced else None,
            content_type="application/merge-patch+json",
        )

    def delete(self, doc: JSON, user: str | None = None) -> None:
        """Delete, as the admin or as `user`; gone already is fine."""
        res = self.resource(doc["apiVersion"], doc["kind"], user)
        meta = doc["metadata"]
        with contextlib.suppress(NotFoundError):
            res.delete(
                name=meta["name"], namespace=meta.get("namespace") if res.namespaced else None
            )

    def apply_crds(self, paths: Sequence[Path]) -> None:
        """Apply every CRD in the files and wait until all are Established."""
        names = []
        for path in paths:
            for doc in load_yaml_docs(path):
                self.apply(doc)
                names.append(doc["metadata"]["name"])
        self.wait_established(names)

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


def _dynamic_client(config: Path, discovery_cache: Path) -> dynamic.DynamicClient:
    # The kubernetes client is untyped at its entry points.
    cfg = kclient.Configuration()
    kconfig.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(config), client_configuration=cfg
    )
    return dynamic.DynamicClient(  # type: ignore[no-untyped-call]
        kclient.ApiClient(cfg), cache_file=str(discovery_cache)
    )


def go_module_dir(root: Path, module: str) -> Path:
    """Where the Go module cache holds `module` at the version its consumer module under
    tools/ pins (tools/go.mod, or tools/<name>/go.mod of a tool with its own)."""
    direct = re.compile(rf"^\s*(require\s+)?{re.escape(module)}\s+v\S+\s*$", re.MULTILINE)
    consumer = next(
        (d for d in sorted((root / "tools").iterdir()) if direct.search(_requires(d))),
        root / "tools",
    )
    out = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", module],
        cwd=consumer, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(out.stdout.strip())


def _requires(directory: Path) -> str:
    """A consumer module's go.mod under tools/ ("" for anything else)."""
    go_mod = directory / "go.mod"
    return go_mod.read_text() if directory.is_dir() and go_mod.is_file() else ""


@functools.cache
def crossplane_chart_rbac(root: Path) -> list[JSON]:
    """The ServiceAccounts and RBAC of Crossplane's chart at the pinned core version.

    `helm template` of cluster/charts/crossplane from the Go module cache, where building
    crossplane-core put crossplane/crossplane at tools/go.mod's version: core's ClusterRole
    `crossplane` (aggregating crossplane:system:aggregate-to-crossplane, each XRD's role
    the RBAC manager makes and install/crossplane-rbac.yaml), the RBAC manager's, and the
    roles it manages (crossplane-edit and the rest), each bound as the chart binds it.
    """
    out = subprocess.run(
        [str(go_tool("helm", root)), "template", "crossplane", str(crossplane_chart(root)),
         "--namespace", CROSSPLANE_NAMESPACE],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] in CHART_KINDS]


def crossplane_chart(root: Path) -> Path:
    """Crossplane's chart at the core version tools/go.mod pins, in the Go module cache."""
    return (
        go_module_dir(root, "github.com/crossplane/crossplane/v2")
        / "cluster"
        / "charts"
        / "crossplane"
    )


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """check()'s first truthy answer, asked every second for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(1)
    return found


def free_loopback_address(port: int) -> str:
    """A 127.x.y.z address (all of 127/8 is loopback on Linux) where `port` is free."""
    rng = random.SystemRandom()
    for _ in range(50):
        address = f"127.{rng.randrange(1, 255)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((address, port))
            except OSError:
                continue
        return address
    raise RuntimeError(f"no loopback address with port {port} free")


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
