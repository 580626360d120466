"""The package roots `make package` builds (hack/build-packages.sh), from the committed files.

    python -m generate.stage STAGE_DIR

Writes STAGE_DIR/<repository>/package (what the package carries: `crossplane xpkg build`
reads every YAML file there) and, for a package with examples, STAGE_DIR/<repository>/examples;
prints one line per
package, `<Function|Configuration> <repository>`, the Function first:
- the Function: package/crossplane.yaml and the input CRD (package/input/);
- each capability's Configuration: its metadata, its kinds' XRDs and Compositions, and
  their examples' XRs (not the cases that must fail);
- the umbrella Configuration: its metadata only.
The build script checks first that the committed files are generated for its REGISTRY and
VERSION (python -m generate --check).
"""

import shutil
import sys
from pathlib import Path

from generate import ROOT
from generate.configuration import CATALOGUE, capabilities
from generate.release import FUNCTION


def _root(stage: Path, repo: str) -> Path:
    root = stage / repo / "package"
    root.mkdir(parents=True)
    return root


def stage(out: Path) -> list[tuple[str, str]]:
    """Write the package roots into out (emptied first); (kind, repository) of each."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    root = _root(out, FUNCTION)
    shutil.copy(ROOT / "package/crossplane.yaml", root)
    (root / "input").mkdir()
    for crd in sorted((ROOT / "package/input").glob("*.yaml")):
        shutil.copy(crd, root / "input")
    built = [("Function", FUNCTION)]
    configurations = ROOT / "package/configurations"
    for part in capabilities():
        root = _root(out, part.repository)
        shutil.copy(configurations / part.repository / "crossplane.yaml", root)
        for kind in part.kinds:
            api = kind.api
            shutil.copy(ROOT / "xrds" / f"{api.xrd_name}.yaml", root)
            shutil.copy(ROOT / "compositions" / f"{api.kind.lower()}.yaml", root)
            _examples(api.kind.lower(), out / part.repository / "examples")
        built.append(("Configuration", part.repository))
    root = _root(out, CATALOGUE)
    shutil.copy(configurations / CATALOGUE / "crossplane.yaml", root)
    built.append(("Configuration", CATALOGUE))
    return built


def _examples(kind: str, dest: Path) -> None:
    """The kind's example XRs, one file per case, except the cases that must fail."""
    for xr in sorted((ROOT / "examples" / kind).glob("*/xr.yaml")):
        if (xr.parent / "expected-error.txt").exists():
            continue
        (dest / kind).mkdir(parents=True, exist_ok=True)
        shutil.copy(xr, dest / kind / f"{xr.parent.name}.yaml")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m generate.stage STAGE_DIR")
    for kind, repo in stage(Path(sys.argv[1])):
        print(kind, repo)
