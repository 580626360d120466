"""docs/architecture.md lists every module of function/, generate/ and harness/, and no other.

A module is named as `path/module.py`, a package as `path/` (its __init__.py is the package).
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("function", "generate", "harness")
_NAMED = re.compile(r"`((?:function|generate|harness)/[A-Za-z0-9_/]*(?:\.py|/))`")


def _named() -> set[str]:
    return set(_NAMED.findall(DOC.read_text()))


def _present() -> set[str]:
    out: set[str] = set()
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "__pycache__" in rel.parts:
                continue
            if path.name == "__init__.py":
                if rel.parent.name not in PACKAGES:  # the top packages are the doc's sections
                    out.add(f"{rel.parent}/")
            else:
                out.add(str(rel))
    return out


def test_every_module_is_listed() -> None:
    assert _present() - _named() == set(), "add each to docs/architecture.md"


def test_every_listed_module_exists() -> None:
    assert _named() - _present() == set(), "docs/architecture.md names these, which do not exist"
