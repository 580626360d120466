"""Tests that read what `make package` built carry the `package` marker.

Building the packages needs root (debootstrap, chroot), so `make test` runs `-m "not package"`
and `make package-test` builds them and runs `-m package`. A test needs them when it uses the
`built` fixture (tests/e2e/test_package.py), directly or through another fixture.
"""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "built" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.package)
