"""One client interface to ClickHouse, embedded (chDB, `chdb:///path`) or a server (`http(s)://...`).

Both go through clickhouse-connect, so every query and DDL here runs on either. A client is not
safe for concurrent queries, so each thread gets its own (chDB clients on one path share the
engine and its data). Over HTTP each client is its own server session (clickhouse-connect names
one per client), and every setting kokanee sends rides on its query, never on the session.

On a cluster (`cluster=NAME`) DDL is rendered for it as it is sent (kokanee.store.cluster), so
migrations and every component's DDL serve both; inserts wait for the shards
(`distributed_foreground_insert`), so an acknowledged WAL batch is in its shards' replicated
tables, where the deduplication token of a replay finds it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from kokanee.store import otlp_native
from kokanee.store.cluster import Cluster
from kokanee.store.memory import MemoryBudget

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or cannot write (server down, disk full): retry later."""


class QueryError(ValueError):
    """ClickHouse refused a query (syntax, unknown column, limits): the caller's mistake."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _connect(url: str, engine_settings: dict[str, int] | None = None) -> Client:
    if url.startswith("chdb:"):
        # chDB takes its server settings (memory limit, cache sizes) from the first connection a
        # process opens on a path; the DSN's query string would be dropped, chdb_options is not.
        return clickhouse_connect.get_client(dsn=url, chdb_options=engine_settings or None)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"store URL must start with chdb://, http:// or https://, got {url!r}")
    # clickhouse-connect takes TLS from the port (443, 8443), not from the scheme: without this,
    # https://host:8123/db would be spoken in plain HTTP, password and all.
    return clickhouse_connect.get_client(dsn=url, interface=parts.scheme)


class Store:
    """A ClickHouse reachable at `url`; `embedded` when kokanee's own process holds the data."""

    def __init__(self, url: str, cluster: str | Cluster | None = None, memory: MemoryBudget | None = None) -> None:
        self.url = url
        self.embedded = url.startswith("chdb:")
        self.cluster = Cluster(cluster) if isinstance(cluster, str) else cluster
        # The embedded engine's limits (a server has its own configuration and is left alone).
        self.memory = memory if self.embedded else None
        self._dropped_settings: set[str] = set()
        self._known_settings: dict[str, bool] = {}
        self._otlp_functions = False
        self._functions_lock = threading.Lock()  # not _lock: creating them may open a client, which takes it
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[Client] = []

    def client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            try:
                client = _connect(self.url, self.memory.engine_settings() if self.memory else None)
            except (OperationalError, OSError) as e:
                raise StoreUnavailable(f"cannot reach the store at {self.redacted_url}: {e}") from e
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    @property
    def redacted_url(self) -> str:
        parts = urlsplit(self.url)
        if parts.password:
            return self.url.replace(f":{parts.password}@", ":***@")
        return self.url

    def command(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any:
        """Runs a statement (on a cluster: the statements it renders to); returns the last result."""
        client = self.client()
        result = None
        try:
            for statement in self.cluster.render(sql) if self.cluster else [sql]:
                result = client.command(statement, parameters=parameters, settings=self._settable(client, settings))
        except OperationalError as e:
            raise StoreUnavailable(str(e)) from e
        return result

    def query(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> QueryResult:
        client = self.client()
        try:
            result = client.query(sql, parameters=parameters, settings=self._settable(client, settings))
        except OperationalError as e:
            raise StoreUnavailable(str(e)) from e
        except (DatabaseError, ClickHouseError) as e:
            if _ENGINE_FULL in str(e):
                # The engine as a whole is at its memory limit (inserts, merges, other queries):
                # retry later (503). A query over its own limit is the caller's to narrow (400).
                raise StoreUnavailable(_short_error(str(e))) from e
            raise QueryError(_short_error(str(e))) from e
        columns = list(result.column_names)
        if not columns and not result.result_rows and _READS.match(sql):
            # The embedded engine reports no columns for an empty result; ask ClickHouse for them.
            described = client.query(
                f"DESCRIBE ({sql})", parameters=parameters, settings=self._settable(client, settings)
            )
            columns = [str(row[0]) for row in described.result_rows]
        return QueryResult(columns, list(result.result_rows))

    def insert_arrow(self, table: str, data: pa.Table, token: str | None = None) -> None:
        """Inserts a columnar batch; a repeated `token` is dropped by MergeTree (exactly-once replay)."""
        settings: dict[str, Any] = {"deduplicate_blocks_in_dependent_materialized_views": 1, **self._insert_settings}
        if token is not None:
            settings["insert_deduplication_token"] = token
        with _writing():
            self.client().insert_arrow(table, data, settings=settings)

    def insert_otlp(self, signal: str, payloads: list[bytes], token: str, spool_dir: Path) -> None:
        """Inserts Export*ServiceRequest messages, flattened by ClickHouse (see otlp_native).

        The embedded engine reads the batch from a spool file; a server reads it from the
        request body. Same SQL either way.
        """
        data = otlp_native.length_delimited(payloads)
        settings: dict[str, Any] = {
            **otlp_native.format_settings(signal),
            "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            **self._insert_settings,
        }
        with _writing():
            if self.embedded:
                self._define_otlp_functions()
                spool_dir.mkdir(parents=True, exist_ok=True)
                path = spool_dir / f"{signal}-{token}.pb"
                path.write_bytes(data)
                try:
                    self.client().command(otlp_native.insert_from_file(signal, str(path), settings))
                finally:
                    path.unlink(missing_ok=True)
            else:
                self.client().command(otlp_native.insert_from_input(signal), data=data, settings=settings)

    def _define_otlp_functions(self) -> None:
        """The SQL functions the embedded insert calls (`otlp_native.FUNCTIONS`), once per store."""
        with self._functions_lock:
            if not self._otlp_functions:
                for sql in otlp_native.create_functions():
                    self.command(sql)
                self._otlp_functions = True

    @property
    def _insert_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        if self.cluster:
            # Through a Distributed table: written to the shards before the insert returns (an error
            # comes back to the pipeline, which retries with the same token) instead of queued on this node.
            settings["distributed_foreground_insert"] = 1
        if self.memory:
            # An insert may use the engine's whole share (a query only half of it): the pipeline sizes
            # its batches to fit (MemoryBudget.batch_rows), and one that does not fit cannot be halved.
            settings["max_memory_usage"] = self.memory.engine_bytes
        return settings

    def _settable(self, client: Client, settings: dict[str, Any] | None) -> dict[str, Any] | None:
        """`settings` less those the server says this user cannot change (a readonly profile, a
        constraint): clickhouse-connect would refuse the query. The server's own value applies,
        and a readonly user's is stricter than the sandbox's `readonly = 2`."""
        if self.cluster is not None:
            # A read of a Distributed table whose JOIN or IN reads another is refused on a cluster
            # of several shards unless told how to run the inner one: once, shipped to every shard
            # (GLOBAL) is right whatever the sharding (pairing a trace's spans, trace lookups).
            settings = {"distributed_product_mode": "global", **(settings or {})}
        if not settings or self.embedded:
            return settings
        fixed = {k for k in settings if (d := client.server_settings.get(k)) is not None and d.readonly}
        for name in fixed - self._dropped_settings:
            log.warning("the store's user cannot change the setting %s; the server's value applies", name)
        self._dropped_settings |= fixed
        return {k: v for k, v in settings.items() if k not in fixed}

    def supports_native_otlp(self) -> bool:
        """Whether ClickHouse can take an inline protobuf schema (format_schema_source, 24.x+)."""
        return self.has_setting("format_schema_source")

    def has_setting(self, name: str) -> bool:
        """Whether the store's ClickHouse knows a setting (newer features are switched on by one);
        asked once per store."""
        known = self._known_settings.get(name)
        if known is None:
            rows = self.query("SELECT count() FROM system.settings WHERE name = {name:String}", {"name": name}).rows
            known = self._known_settings[name] = bool(rows and rows[0][0])
        return known

    def engine_limits(self) -> dict[str, int]:
        """The embedded engine's memory settings as it applies them (system.server_settings), so a
        limit chDB did not take (the engine was already open in this process) shows."""
        if not self.embedded:
            return {}
        names = ["max_server_memory_usage", "mark_cache_size", "primary_index_cache_size", "background_pool_size"]
        rows = self.query(
            "SELECT name, value FROM system.server_settings WHERE name IN {names:Array(String)}", {"names": names}
        ).rows
        limits = {str(name): int(value) for name, value in rows}
        limits["max_memory_usage"] = int(self.query("SELECT getSetting('max_memory_usage')").rows[0][0])
        return limits

    def release_freed_memory(self) -> None:
        """Has the embedded engine's allocator hand freed pages back to the system now.

        jemalloc keeps what an insert freed for a few seconds to reuse it: measured, a
        22,000-span insert leaves ~75 MiB resident that the engine no longer counts as used, so
        the process sat above `--max-memory-mib` while the engine was within its share. Purging
        costs ~9 ms of CPU. A server's allocator is its own business: nothing is done there."""
        if self.embedded:
            self.command("SYSTEM JEMALLOC PURGE")

    def ping(self) -> bool:
        try:
            return bool(self.client().query("SELECT 1").result_rows == [(1,)])
        except Exception:
            return False

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(Exception):  # closing is best effort; the process is ending
                    client.close()
            self._clients.clear()


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """Sorts write failures: the store cannot take data now (StoreUnavailable, retry) or it
    refuses this data (the original error)."""
    try:
        yield
    except OperationalError as e:
        raise StoreUnavailable(str(e)) from e
    except (DatabaseError, ClickHouseError) as e:
        if _is_resource_error(str(e)):
            raise StoreUnavailable(_short_error(str(e))) from e
        raise


_ENGINE_FULL = "(total) memory limit exceeded"
_READS = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)


def _short_error(message: str) -> str:
    """ClickHouse messages carry a stack trace and version trailer; the first line is the news."""
    first = message.strip().splitlines()[0] if message.strip() else message
    return first.split(" (version ")[0][:500]


# Errors that mean "the store cannot take data now" rather than "this data is wrong".
_RESOURCE_CODES: Sequence[str] = (
    "NOT_ENOUGH_SPACE",
    "CANNOT_WRITE_TO_FILE_DESCRIPTOR",
    "MEMORY_LIMIT_EXCEEDED",
    "TOO_MANY_PARTS",
    "TIMEOUT_EXCEEDED",
    "NETWORK_ERROR",
    "ALL_CONNECTION_TRIES_FAILED",
    "No space left",
)


def _is_resource_error(message: str) -> bool:
    return any(code in message for code in _RESOURCE_CODES)
