"""Crossplane core alone beside etcd and kube-apiserver, holding the CRDs of every XRD:
the API server the CEL tests send their XRs to."""

from __future__ import annotations

from pathlib import Path

from harness.cases import load_yaml_docs
from harness.controlplane import ControlPlane
from harness.paths import ROOT

# The namespace the CEL tests' namespaced XRs are sent to.
NAMESPACE = "cel"


def start_core_plane(workdir: Path) -> ControlPlane:
    """A started control plane with every XRD's CRD established and NAMESPACE created."""
    cp = ControlPlane(workdir)
    try:
        cp.start_api_server()
        cp.start_core_alone()
        names = []
        for path in sorted((ROOT / "xrds").glob("*.yaml")):
            for doc in load_yaml_docs(path):
                cp.apply(doc)
                names.append(doc["spec"]["names"]["plural"] + "." + doc["spec"]["group"])
        cp.wait_established(names)
        cp.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    except BaseException:
        cp.stop()
        raise
    return cp
