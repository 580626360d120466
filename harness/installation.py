"""install/ as docs/install.md has a user apply it: a kustomization of their own listing the
base, every capability's component and the optional components that need nothing outside
Crossplane, built by kustomize.

Three differences from a user's, the first two for what this machine lacks:
- an ImageConfig rewriting the packages' registry to the test's own registry on loopback, as
  one mirrors packages into a private registry (crossplane-runtime v2.3.3
  pkg/xpkg/config.go RewritePath: the longest matching prefix is replaced; the package
  objects keep their names and sources, so the Lock and dependsOn still name the release's);
- `skipDependencyResolution: true` on each Configuration, because every capability depends on
  providers that cannot run here (provider-sql, provider-helm, the upjet AWS providers: their
  packages are on registries this machine cannot reach). crossplane v2.3.4
  internal/controller/pkg/revision/reconciler.go calls the dependency manager only when it is
  false, and the manager refuses to install a revision with a missing dependency
  (dependency.go Resolve, errFmtMissingDependencies), so with resolution the XRDs and
  Compositions would never be established. The Function they depend on is the base's own
  Function object, named as dependency resolution would name it (docs/install.md, How the
  Function is named). So the umbrella Configuration, which brings the capabilities only
  through dependency resolution, is replaced by the four capability components, as a user
  picking capabilities does;
- vault-gc's CronOperation runs every VAULT_GC_SCHEDULE instead of every 15 minutes, a
  kustomize patch of its schedule as a user may write one: the e2e waits for one of its
  runs after deleting an XR (tests/controlplane/test_vault_gc.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from harness.cases import JSON, load_yaml_docs
from harness.paths import go_tool

# Optional components left out: monitoring needs the Prometheus Operator's kinds (checked
# offline and by promtool).
COMPONENTS = ("remove-expired", "vault-gc")
MIRROR = "e2e-registry-mirror"
VAULT_GC = "function-platform-vault-gc"
# Crossplane v2.3.4 parses a CronOperation's schedule with robfig/cron v3 ParseStandard
# (internal/controller/ops/cronoperation/constructor.go), which takes the `@every <duration>`
# descriptor: the next run is the last Operation's creation plus the duration.
VAULT_GC_SCHEDULE = "@every 15s"


def mirrored(registry: str, host: str) -> str:
    """The prefix `registry`'s packages have on `host`: the same path under another host."""
    path = registry.partition("/")[2]
    return f"{host}/{path}/" if path else f"{host}/"


def mirror(registry: str, host: str) -> JSON:
    """The ImageConfig that pulls every package of `registry` from `host` instead."""
    return {
        "apiVersion": "pkg.crossplane.io/v1beta1",
        "kind": "ImageConfig",
        "metadata": {"name": MIRROR},
        "spec": {
            "matchImages": [{"type": "Prefix", "prefix": f"{registry}/"}],
            "rewriteImage": {"prefix": mirrored(registry, host)},
        },
    }


def kustomization(root: Path, directory: Path, password_key: str, mirror_doc: JSON) -> Path:
    """The user's kustomization in `directory`, beside a copy of install/ holding the key."""
    directory.mkdir(parents=True, exist_ok=True)
    install = directory / "install"
    shutil.rmtree(install, ignore_errors=True)
    shutil.copytree(root / "install", install)
    (install / "password-key").write_text(password_key)
    (directory / "mirror.yaml").write_text(yaml.safe_dump(mirror_doc))
    capabilities = sorted(p.name for p in (install / "capabilities").iterdir() if p.is_dir())
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["mirror.yaml", "install"],
        "components": [
            *(f"install/capabilities/{c}" for c in capabilities),
            *(f"install/components/{c}" for c in COMPONENTS),
        ],
        "patches": [
            {
                "target": {"group": "pkg.crossplane.io", "kind": "Configuration"},
                "patch": yaml.safe_dump(
                    [{"op": "add", "path": "/spec/skipDependencyResolution", "value": True}]
                ),
            },
            {
                "target": {"group": "ops.crossplane.io", "kind": "CronOperation", "name": VAULT_GC},
                "patch": yaml.safe_dump(
                    [{"op": "replace", "path": "/spec/schedule", "value": VAULT_GC_SCHEDULE}]
                ),
            },
        ],
        "sortOptions": {"order": "fifo"},
    }
    path = directory / "kustomization.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def build(root: Path, directory: Path) -> list[JSON]:
    """`kustomize build directory`: the objects, in the order they are to be applied."""
    out = subprocess.run(
        [str(go_tool("kustomize", root)), "build", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"kustomize build {directory}:\n{out.stderr[-3000:]}")
    path = directory / "built.yaml"
    path.write_text(out.stdout)
    return load_yaml_docs(path)
