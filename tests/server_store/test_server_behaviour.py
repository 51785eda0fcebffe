"""What a server does differently from the embedded store, and how kokanee meets it: users and
their grants (a readonly user), sessions, errors as ClickHouse writes them, migrations started by
several processes at once, and the native OTLP decoder reading the request body with input().

The HTTP-level checks talk to the stand-in itself (its users are known); the rest use the server
of the suite (the stand-in, or KOKANEE_TEST_CLICKHOUSE_URL).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from kokanee.store.client import Store, StoreUnavailable
from kokanee.store.migrations import MIGRATIONS, SCHEMA_LOCK, migrate
from kokanee.store.sandbox import run_sql
from tests.chstandin import PASSWORD, USER, Standin, start_standin
from tests.server import KokaneeServer
from tests.server_store.conftest import database_url


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    started = start_standin(tmp_path_factory.mktemp("standin"))
    yield started
    started.stop()


def _post(standin: Standin, sql: str, auth: tuple[str, str] = (USER, PASSWORD), **params: str) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{standin.port}/", params=params, content=sql, auth=auth, timeout=30)


def test_errors_come_back_as_clickhouse_writes_them(standin: Standin) -> None:
    r = _post(standin, "SELECT * FROM no_such_table", database="kokanee")
    assert r.status_code == 404 and r.headers["X-ClickHouse-Exception-Code"] == "60"
    assert r.text.startswith("Code: 60. DB::Exception: ") and "(UNKNOWN_TABLE)" in r.text
    r = _post(standin, "SELEC 1")
    assert r.status_code == 400 and r.headers["X-ClickHouse-Exception-Code"] == "62"
    r = _post(standin, "SELECT 1", auth=(USER, "wrong"))
    assert r.status_code == 401 and "(AUTHENTICATION_FAILED)" in r.text


def test_a_session_keeps_its_settings_and_a_query_s_settings_are_its_own(standin: Standin) -> None:
    session = uuid.uuid4().hex
    assert _post(standin, "SET max_threads = 1", session_id=session).status_code == 200
    read = "SELECT getSetting('max_threads')"
    assert _post(standin, read, session_id=session).text.strip() == "1"
    assert _post(standin, read, session_id=session, max_threads="3").text.strip() == "3"
    assert _post(standin, read, session_id=session).text.strip() == "1"
    assert _post(standin, read, session_id=uuid.uuid4().hex).text.strip() != "1"


def test_a_readonly_user_runs_the_sandbox_and_cannot_write(standin: Standin) -> None:
    """The sandbox sends readonly=2 and its limits as settings; a readonly=1 user may change none of
    them, so kokanee leaves them out (the user's own profile is stricter) instead of failing."""
    writer = Store(standin.url)
    migrate(writer)
    reader = Store(standin.readonly_url)
    result, truncated = run_sql(reader, "SELECT count() AS n FROM otel_traces")
    assert result.dicts() == [{"n": 0}] and not truncated
    with pytest.raises(DatabaseError, match="READONLY"):
        reader.command("INSERT INTO kokanee_fault_labels (Start, ServiceName, Kind, Source, Detail) "
                       "VALUES (now64(9), 'a', 'b', 'c', 'd')")  # fmt: skip
    writer.close()
    reader.close()


def test_processes_starting_together_migrate_once(clickhouse_url: str, tmp_path: Path) -> None:
    url = database_url(clickhouse_url, str(tmp_path))
    stores = [Store(url) for _ in range(3)]
    results: list[list[int]] = []

    def start(store: Store) -> None:
        results.append(migrate(store))

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert sorted(v for applied in results for v in applied) == [m.version for m in MIGRATIONS]
    store = stores[0]
    ledger = store.query("SELECT Version, count() AS n FROM kokanee_schema_migrations GROUP BY Version").rows
    assert all(n == 1 for _, n in ledger) and len(ledger) == len(MIGRATIONS)
    left = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {n:String}"
    assert store.query(left, parameters={"n": SCHEMA_LOCK}).rows == [(0,)]
    for s in stores:
        s.close()


def test_a_lock_left_by_a_dead_process_is_taken_over_after_its_lease(clickhouse_url: str, tmp_path: Path) -> None:
    store = Store(database_url(clickhouse_url, str(tmp_path)))
    store.command(f"CREATE TABLE {SCHEMA_LOCK} (Holder String) ENGINE = Memory COMMENT 'gone/1/x until 0'")
    assert migrate(store) == [m.version for m in MIGRATIONS]
    store.close()


def test_the_native_decoder_reads_the_request_body_on_a_server(kokanee_server: KokaneeServer) -> None:
    """Servers since 24.10 take the inline protobuf schema too: the OTLP bytes are the body of an
    INSERT ... SELECT FROM input(), and ClickHouse flattens them (tests/test_otlp_sdk.py, re-run here,
    checks the rows field by field)."""
    assert "flattening logs, traces in ClickHouse" in kokanee_server.log()


def test_a_server_over_tls_is_reached_with_its_ca_and_refused_without(tmp_path: Path) -> None:
    """`--store https://...?ca_cert=PATH`: clickhouse-connect's options ride in the URL."""
    secure = start_standin(tmp_path, tls=True)
    try:
        store = Store(secure.url)
        migrate(store)
        ingest_trace = "INSERT INTO kokanee_fault_labels (Start, ServiceName, Kind, Source, Detail) VALUES "
        store.command(ingest_trace + "(now64(9), 'tls', 'k', 's', 'd')")
        assert store.query("SELECT ServiceName FROM kokanee_fault_labels").rows == [("tls",)]
        store.close()
        untrusted = Store(secure.url.split("?")[0])
        with pytest.raises(StoreUnavailable, match="cannot reach"):
            untrusted.query("SELECT 1")
        untrusted.close()
    finally:
        secure.stop()
