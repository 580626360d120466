"""Where things are: the project root, the shared upstream material, the Go tools."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ToolMissingError(RuntimeError):
    """A required binary is missing: run `make tools` (or `make venv`)."""


def shared_dir(root: Path = ROOT, shared: str | os.PathLike[str] | None = None) -> Path:
    """The dir holding the upstream files deps/upstream.yaml pins (crds/, schemas/, charts/...).

    The first of `shared`, $SHARED and <root>/../shared that is given, if it has a crds/ dir;
    else <root>/.cache/upstream, where `make deps` downloads them with the same layout.
    """
    candidates = [Path(shared)] if shared else []
    if not shared and os.environ.get("SHARED"):
        candidates.append(Path(os.environ["SHARED"]))
    if not candidates:
        candidates.append(root / ".." / "shared")
    candidates.append(root / ".cache" / "upstream")
    for candidate in candidates:
        c = candidate if candidate.is_absolute() else (root / candidate)
        if (c / "crds").is_dir():
            return c.resolve()
    raise FileNotFoundError(
        f"no upstream files: none of {[str(c) for c in candidates]} has a crds/ dir; "
        "set SHARED or run `make deps`"
    )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@dataclasses.dataclass(frozen=True)
class Tools:
    """The crossplane CLI and the Crossplane core binary it runs for `composition render`."""

    crossplane: Path
    crossplane_core: Path

    @classmethod
    def locate(
        cls,
        root: Path = ROOT,
        crossplane: str | os.PathLike[str] | None = None,
        crossplane_core: str | os.PathLike[str] | None = None,
    ) -> Tools:
        """The given paths, else $CROSSPLANE / $CROSSPLANE_CORE, else <root>/.tools/bin/."""
        cli = Path(crossplane or os.environ.get("CROSSPLANE") or root / ".tools/bin/crossplane")
        core = Path(
            crossplane_core
            or os.environ.get("CROSSPLANE_CORE")
            or root / ".tools/bin/crossplane-core"
        )
        missing = [str(p) for p in (cli, core) if not _executable(p)]
        if missing:
            raise ToolMissingError(
                f"missing tool binaries: {', '.join(missing)}; run `make tools` first"
            )
        return cls(cli.resolve(), core.resolve())


def go_tool(name: str, root: Path = ROOT) -> Path:
    """A tool `make tools` installs into <root>/.tools/bin, e.g. helm; $<NAME> overrides it."""
    path = Path(os.environ.get(name.upper()) or root / ".tools/bin" / name)
    if not _executable(path):
        raise ToolMissingError(f"missing tool binary: {path}; run `make tools` first")
    return path.resolve()
