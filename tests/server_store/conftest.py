"""The server path: every test in this folder runs kokanee against a ClickHouse server reached by
`--store http://user:pass@host:8123/db`: the TEST STAND-IN (tests/chstandin.py, chDB behind
ClickHouse's HTTP interface), or a real server when KOKANEE_TEST_CLICKHOUSE_URL is set.

The test modules here re-run representative tests of other modules unchanged (`from tests.test_x
import *`): the fixtures those tests ask for are overridden below, so `chdb_store` is the server
store and `kokanee_server` / `start_kokanee` start `kokanee serve --store http://...`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from kokanee.store.client import Store
from kokanee.store.migrations import migrate
from tests.chstandin import start_standin
from tests.server import KokaneeServer


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ClickHouse server's store URL: KOKANEE_TEST_CLICKHOUSE_URL, else the stand-in's."""
    real = os.environ.get("KOKANEE_TEST_CLICKHOUSE_URL")
    if real:
        yield real
        return
    standin = start_standin(tmp_path_factory.mktemp("clickhouse"))
    yield standin.url
    standin.stop()


def database_url(url: str, key: str) -> str:
    """The server at `url`, in a database of its own for `key` (created if missing): a `kokanee
    serve` subprocess runs a deriver, a detector and alerting, which must not share tables with
    the tests' in-process store (on chDB each has its own data directory)."""
    parts = urlsplit(url)
    base = parts.path.strip("/") or "default"
    database = f"{base}_{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    admin = Store(url)
    admin.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    admin.close()
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def chdb_store(clickhouse_url: str) -> Iterator[Store]:
    store = Store(clickhouse_url)
    migrate(store)
    yield store
    store.close()


@pytest.fixture(scope="session")
def kokanee_server(
    clickhouse_url: str, chdb_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KokaneeServer]:
    data = tmp_path_factory.mktemp("server-store") / "data"
    server = KokaneeServer(data, "--store", database_url(clickhouse_url, str(data))).start()
    yield server
    server.stop()


@pytest.fixture
def start_kokanee(clickhouse_url: str, chdb_store: Store, tmp_path: Path) -> Iterator[Callable[..., KokaneeServer]]:
    started: list[KokaneeServer] = []

    def start(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None) -> KokaneeServer:
        data = data_dir or tmp_path / f"data{len(started)}"
        server = KokaneeServer(data, "--store", database_url(clickhouse_url, str(data)), *args, env=env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
