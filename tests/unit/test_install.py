"""install/ as kustomize builds it, and the function's runtime config.

- The DeploymentRuntimeConfig's container has the whole restricted profile, as the image's
  user, and every Crossplane object of install/ is valid against Crossplane's CRDs
  ($SHARED/crds/crossplane).
- The base puts the runtime config and the Function before the Configuration.
- The capability components replace the umbrella; the kustomization docs/install.md shows
  builds, with its components and its Prometheus label.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from generate import ROOT, configuration, install, release
from harness import image
from harness.cases import load_yaml_docs
from harness.crdschema import crd_errors
from harness.paths import go_tool, shared_dir

RELEASE = release.default()
FUNCTION = RELEASE.function_name
UMBRELLA = RELEASE.name(configuration.CATALOGUE)


def _runtime() -> dict[str, Any]:
    (runtime,) = [
        d
        for d in load_yaml_docs(ROOT / "install/packages.yaml")
        if d["kind"] == "DeploymentRuntimeConfig"
    ]
    return runtime


def _pod(runtime: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = runtime["spec"]["deploymentTemplate"]["spec"]["template"]["spec"]
    return spec


def test_the_function_container_runs_with_the_whole_restricted_profile() -> None:
    pod = _pod(_runtime())
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    # The image's own user: what the image's files and /tmp are made for.
    assert image.dockerfile_runtime()["USER"] == "65532:65532" == image.pod_user()
    # The only writable path is a volume: the root file system is read-only.
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


def _crossplane_crd(doc: dict[str, Any]) -> Path:
    group = doc["apiVersion"].split("/")[0]
    plural = doc["kind"].lower() + "s"
    return shared_dir() / "crds/crossplane" / f"{group}_{plural}.yaml"


def _install_objects() -> list[tuple[str, dict[str, Any]]]:
    return [
        (str(p.relative_to(ROOT)), d)
        for p in sorted((ROOT / "install").rglob("*.yaml"))
        if p.name != "kustomization.yaml"
        for d in load_yaml_docs(p)
    ]


def test_install_s_crossplane_objects_are_valid_against_crossplane_s_crds() -> None:
    checked = []
    for where, doc in _install_objects():
        if not doc["apiVersion"].split("/")[0].endswith(".crossplane.io"):
            continue
        assert crd_errors(_crossplane_crd(doc), doc) == [], where
        checked.append(doc["kind"])
    assert {"DeploymentRuntimeConfig", "ImageConfig", "Function", "Configuration"} <= set(checked)
    assert "CronOperation" in checked


def test_the_crd_check_refuses_a_misspelt_security_field() -> None:
    runtime = _runtime()
    context = _pod(runtime)["containers"][0]["securityContext"]
    context["readOnlyRootFileSystem"] = context.pop("readOnlyRootFilesystem")
    errors = crd_errors(_crossplane_crd(runtime), runtime)
    assert any("readOnlyRootFileSystem" in e for e in errors), errors


def test_the_image_config_gives_the_runtime_config_to_the_function_s_repository_only() -> None:
    (config,) = [
        d for d in load_yaml_docs(ROOT / "install/packages.yaml") if d["kind"] == "ImageConfig"
    ]
    source = RELEASE.source(release.FUNCTION)
    assert [m["prefix"] for m in config["spec"]["matchImages"]] == [f"{source}:", f"{source}@"]
    assert config["spec"]["runtime"]["configRef"]["name"] == _runtime()["metadata"]["name"]


# ---------------------------------------------------------------- kustomize


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of install/ with a key file, as function-platform/install beside a user's dir."""
    install_dir = tmp_path / "function-platform" / "install"
    shutil.copytree(ROOT / "install", install_dir, ignore=shutil.ignore_patterns("password-key"))
    (install_dir / "password-key").write_text("a-long-random-key")
    return tmp_path


def _build(directory: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        [str(go_tool("kustomize")), "build", str(directory)],
        check=True,
        capture_output=True,
        text=True,
    )
    return [d for d in yaml.safe_load_all(built.stdout) if d]


def _overlay(checkout: Path, kustomization: str) -> list[dict[str, Any]]:
    (checkout / "platform").mkdir()
    (checkout / "platform" / "kustomization.yaml").write_text(kustomization)
    return _build(checkout / "platform")


def _kinds(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["kind"], d["metadata"]["name"]) for d in docs]


def _assert_runtime_and_function_first(docs: list[dict[str, Any]]) -> None:
    order = _kinds(docs)
    configurations = [i for i, (kind, _) in enumerate(order) if kind == "Configuration"]
    assert configurations, order
    for first in (
        ("DeploymentRuntimeConfig", install.RUNTIME_CONFIG),
        ("ImageConfig", release.FUNCTION),
        ("Function", FUNCTION),
    ):
        assert order.index(first) < min(configurations), order


def test_the_base_puts_the_runtime_and_the_function_before_the_configuration(
    checkout: Path,
) -> None:
    docs = _build(checkout / "function-platform" / "install")
    _assert_runtime_and_function_first(docs)
    configurations = [name for kind, name in _kinds(docs) if kind == "Configuration"]
    assert configurations == [UMBRELLA]


def _component_overlay(*components: str) -> str:
    listed = "".join(f"- ../function-platform/install/{c}\n" for c in components)
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n- ../function-platform/install\n"
        f"components:\n{listed}sortOptions:\n  order: fifo\n"
    )


@pytest.mark.parametrize(
    "capabilities",
    [["data"], ["compute", "ml"], ["data", "compute", "ml", "network"]],
    ids="+".join,
)
def test_capability_components_install_exactly_those_instead_of_the_umbrella(
    checkout: Path, capabilities: list[str]
) -> None:
    docs = _overlay(checkout, _component_overlay(*(f"capabilities/{c}" for c in capabilities)))
    configurations = {d["spec"]["package"] for d in docs if d["kind"] == "Configuration"}
    assert configurations == {RELEASE.reference(f"platform-{c}") for c in capabilities}
    _assert_runtime_and_function_first(docs)


def _docs_kustomization() -> str:
    """The kustomization docs/install.md shows, as written there."""
    text = (ROOT / "docs/install.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    (block,) = [b for b in blocks if "kind: Kustomization" in b]
    return block


def test_the_kustomization_of_the_install_docs_builds_what_it_says(checkout: Path) -> None:
    docs = _overlay(checkout, _docs_kustomization())
    _assert_runtime_and_function_first(docs)
    kinds = _kinds(docs)
    assert [n for k, n in kinds if k == "Configuration"] == [
        RELEASE.name("platform-data"),
        RELEASE.name("platform-network"),
    ]
    assert ("CronOperation", "function-platform-remove-expired") in kinds
    assert ("CronOperation", "function-platform-vault-gc") not in kinds
    monitoring = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
    assert {d["kind"] for d in monitoring} == {"ServiceMonitor", "PrometheusRule"}
    assert {d["metadata"]["labels"]["release"] for d in monitoring} == {"prometheus"}
    assert ("Secret", "function-platform") in kinds


def test_every_component_builds_on_the_base(checkout: Path) -> None:
    components = sorted(p.name for p in (ROOT / "install/components").iterdir())
    assert components == ["host-ownership", "monitoring", "remove-expired", "vault-gc"]
    docs = _overlay(checkout, _component_overlay(*(f"components/{c}" for c in components)))
    kinds = {kind for kind, _ in _kinds(docs)}
    assert {"CronOperation", "PrometheusRule", "ValidatingAdmissionPolicy"} <= kinds
    # The base alone has none of them.
    base = {kind for kind, _ in _kinds(_build(checkout / "function-platform" / "install"))}
    assert not {"CronOperation", "PrometheusRule", "ValidatingAdmissionPolicy"} & base


def test_the_install_docs_list_what_each_configuration_holds_and_depends_on() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in (ROOT / "docs/install.md").read_text().splitlines()
        if line.startswith("| `platform-")
    }
    for part in configuration.capabilities():
        row = rows[part.repository]
        meta = load_yaml_docs(
            ROOT / "package/configurations" / part.repository / "crossplane.yaml"
        )[0]
        for kind in part.kinds:
            assert f"`{kind.api.kind}`" in row, part.repository
        for dep in meta["spec"]["dependsOn"]:
            if dep["kind"] == "Provider":
                assert dep["package"].rsplit("/", 1)[1] in row, (part.repository, dep)
