"""The import contracts of .importlinter cover every module of the function.

lint-imports (make lint) checks the imports between the modules a contract names; a
module no layer names is checked by nothing, so each one must be named.
"""

import configparser
import pkgutil
from pathlib import Path

import function
from function import catalogue

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config


def _layered() -> set[str]:
    """Every module or package the layers contract names, as function.<name>."""
    layers = _contracts()["importlinter:contract:layers"]["layers"]
    return {
        f"function.{name.strip()}"
        for line in layers.splitlines()
        for name in line.replace("|", ":").split(":")
        if name.strip()
    }


def _modules() -> set[str]:
    """Every module and package of the function."""
    return {m.name for m in pkgutil.walk_packages(function.__path__, "function.")}


def _covered(module: str, named: set[str]) -> bool:
    """Named itself, inside a named package, or a package holding named modules."""
    return any(
        module == n or module.startswith(f"{n}.") or n.startswith(f"{module}.") for n in named
    )


def test_every_module_is_in_a_layer() -> None:
    named = _layered()
    unnamed = {m for m in _modules() if not _covered(m, named)}
    assert unnamed == set(), "add each to a layer of .importlinter"


def test_every_layer_names_a_module_that_exists() -> None:
    assert _layered() - _modules() == set()


def test_every_kind_is_independent_of_the_others() -> None:
    listed = _contracts()["importlinter:contract:kinds"]["modules"].split()
    assert sorted(listed) == sorted(f"function.kinds.{e.package}" for e in catalogue.ENTRIES)
