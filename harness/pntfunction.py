"""function-patch-and-transform (P&T) installed in the control plane as a Function, beside this
function, for the reconcile-loop benchmark (harness/loop.py).

Its published package (xpkg.crossplane.io/crossplane-contrib/function-patch-and-transform) is on
a registry this machine cannot reach and embeds a runtime image no kubelet would run here. So the
smallest honest package is built from the source the binary was built from: its package metadata
(package/crossplane.yaml) and input CRD (package/input), with `crossplane xpkg build`, pushed to
the harness registry under its own repository path and installed as a Function object. Core's
package manager then does for it what it does for this function: a revision, the input CRD, the
endpoint of the Service it makes and a TLS server certificate; the binary serves that endpoint
with that certificate (--tls-certs-dir), reached through the same hosts mapping this function is
(ControlPlane._with_function_host). Both functions are wired alike, so the loop measures the
functions, not their wiring: core's package runtime is chosen per package kind, not per
package (crossplane v2.3.4 internal/controller/pkg/controller/runtime.go, --package-runtime
'Function=External'), so P&T has the runtime this function has in the e2e, core's default
Deployment runtime, whose Deployment no kubelet runs and whose endpoint the harness serves.

The platform team's P&T Compositions target Crossplane v1 (a cluster-scoped XR kind, legacy
cluster-scoped managed resources); peer_composition moves one to this project's namespaced XR
kind (see there).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

from harness import process, registry
from harness.cases import JSON
from harness.controlplane import (
    CROSSPLANE_NAMESPACE,
    FUNCTION_PORT,
    ControlPlane,
    free_loopback_address,
)
from harness.paths import go_tool

# The Function's name: what the P&T Compositions' functionRef names.
NAME = "function-patch-and-transform"
REPOSITORY = "crossplane-contrib/function-patch-and-transform"
# What a v2 namespaced managed resource that used a v1 cluster-scoped ProviderConfig refers
# to: the cluster-wide config kind (provider-helm v1 helm.m.crossplane.io_releases.yaml,
# spec.providerConfigRef requires kind and name).
CLUSTER_PROVIDER_CONFIG = "ClusterProviderConfig"


def build_package(crossplane: Path, package_dir: Path, workdir: Path) -> Path:
    """`crossplane xpkg build` of P&T's package metadata and input CRD, without its image."""
    stage = workdir / "pnt-package"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "input").mkdir(parents=True)
    shutil.copy(package_dir / "crossplane.yaml", stage / "crossplane.yaml")
    for crd in sorted((package_dir / "input").glob("*.yaml")):
        shutil.copy(crd, stage / "input" / crd.name)
    out = workdir / "function-patch-and-transform.xpkg"
    result = subprocess.run(
        [str(crossplane), "xpkg", "build", f"--package-root={stage}", f"--package-file={out}"],
        cwd=stage,  # its --examples-root defaults to ./examples
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"xpkg build of P&T's package failed:\n{result.stderr[-2000:]}")
    return out


def install(plane: ControlPlane, binary: Path, package_dir: Path, version: str) -> process.Process:
    """Push and install P&T's package, then serve the binary where core dials its revision."""
    crossplane = go_tool("crossplane", plane.root)
    xpkg = build_package(crossplane, package_dir, plane.dir)
    # The harness registry's own path: the package is not the published one.
    reference = f"{plane.registry_host}/{REPOSITORY}:{version}"
    registry.push(crossplane, [xpkg], reference, plane.pki.ca_crt, plane.dir / "pnt-push.log")
    host = f"{NAME}.{CROSSPLANE_NAMESPACE}"
    address = free_loopback_address(FUNCTION_PORT)
    plane.map_host(host, address)
    plane.apply(
        {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "Function",
            "metadata": {"name": NAME},
            "spec": {"package": reference},
        }
    )
    certs = plane.dir / "pnt-certs"
    port = plane.function_endpoint(NAME, host, certs)
    proc = process.start(
        NAME,
        [str(binary), "--tls-certs-dir", str(certs), "--address", f"{address}:{port}"],
        log_path=plane.dir / "function-patch-and-transform.log",
    )
    process.wait_for_port(address, port, 30, proc)
    return proc


def namespaced_api_version(api_version: str) -> str:
    """The namespaced twin of a Crossplane v1 provider's cluster-scoped managed resource kind:
    v2 providers serve each again in the group with `m` before the provider's domain
    (provider-helm v1: helm.crossplane.io -> helm.m.crossplane.io; upjet AWS v2:
    s3.aws.upbound.io -> s3.aws.m.upbound.io)."""
    group, _, version = api_version.rpartition("/")
    labels = group.split(".")
    if len(labels) < 3 or "m" in labels:
        raise ValueError(f"{api_version}: not a provider's cluster-scoped group")
    return ".".join([*labels[:-2], "m", *labels[-2:]]) + "/" + version


def peer_composition(doc: JSON, api_version: str, kind: str, cluster_scoped: set[str]) -> JSON:
    """The P&T Composition `doc` moved to the XR kind (api_version, kind) of Crossplane v2.

    A namespaced XR may compose only namespaced resources (crossplane v2.3.4
    internal/controller/apiextensions/composite/composition_functions.go,
    errFmtNamespacedXRClusterResource), so every base whose apiVersion is in
    `cluster_scoped` becomes its namespaced twin, and its providerConfigRef names the
    cluster-wide config kind. Patches, transforms and readiness checks are left as written.
    """
    out = copy.deepcopy(doc)
    out["metadata"] = {"name": f"{kind.lower()}-patch-and-transform"}
    out["spec"]["compositeTypeRef"] = {"apiVersion": api_version, "kind": kind}
    for step in out["spec"]["pipeline"]:
        for resource in step["input"].get("resources") or []:
            base = resource["base"]
            if base["apiVersion"] not in cluster_scoped:
                continue
            base["apiVersion"] = namespaced_api_version(base["apiVersion"])
            ref = base.get("spec", {}).get("providerConfigRef")
            if isinstance(ref, dict):
                ref.setdefault("kind", CLUSTER_PROVIDER_CONFIG)
    return out
