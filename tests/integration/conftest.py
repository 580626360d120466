"""Fixtures starting and stopping the real servers of tests/integration/servers.py."""

from collections.abc import Iterator

import pytest

from tests.integration.servers import Bao, Postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    try:
        server.start()
    except Exception as e:  # a missing package is a failure, with what to install
        server.stop()
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


def _bao() -> Bao:
    try:
        return Bao().start()
    except Exception as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def bao() -> Iterator[Bao]:
    """One healthy server for the tests that leave it healthy."""
    server = _bao()
    yield server
    server.close()


@pytest.fixture
def fresh_bao() -> Iterator[Bao]:
    """A server of its own, for a test that stops or seals it."""
    server = _bao()
    yield server
    server.close()
