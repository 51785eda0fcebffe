from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kokanee.store.client import Store
from kokanee.store.migrations import migrate
from tests.server import KokaneeServer


@pytest.fixture(scope="session")
def kokanee_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KokaneeServer]:
    """One server for the session; tests keep apart by using their own service names."""
    server = KokaneeServer(tmp_path_factory.mktemp("shared-server") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def start_kokanee(tmp_path: Path) -> Iterator[Callable[..., KokaneeServer]]:
    """Starts servers with their own data dir and flags; stops them after the test."""
    started: list[KokaneeServer] = []

    def start(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None) -> KokaneeServer:
        server = KokaneeServer(data_dir or tmp_path / f"data{len(started)}", *args, env=env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def chdb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The test process's embedded store: chDB opens one data path per process, so in-process
    tests share this one (on disk, fully migrated) and truncate what they use."""
    store = Store(f"chdb://{tmp_path_factory.mktemp('in-process')}/store")
    migrate(store)
    yield store
    store.close()
