"""One client interface to ClickHouse, embedded (chDB, `chdb:///path`) or a server (`http(s)://...`).

Both go through clickhouse-connect, so every query and DDL here runs on either. A client is not
safe for concurrent queries, so each thread gets its own (chDB clients on one path share the
engine and its data).
"""

from __future__ import annotations

import contextlib
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


def _connect(url: str) -> Client:
    if url.startswith("chdb:"):
        return clickhouse_connect.get_client(dsn=url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"store URL must start with chdb://, http:// or https://, got {url!r}")
    return clickhouse_connect.get_client(dsn=url)


class Store:
    """A ClickHouse reachable at `url`; `embedded` when kokanee's own process holds the data."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.embedded = url.startswith("chdb:")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[Client] = []

    def client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            try:
                client = _connect(self.url)
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
        try:
            return self.client().command(sql, parameters=parameters, settings=settings)
        except OperationalError as e:
            raise StoreUnavailable(str(e)) from e

    def query(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> QueryResult:
        try:
            result = self.client().query(sql, parameters=parameters, settings=settings)
        except OperationalError as e:
            raise StoreUnavailable(str(e)) from e
        except (DatabaseError, ClickHouseError) as e:
            raise QueryError(_short_error(str(e))) from e
        columns = list(result.column_names)
        if not columns and not result.result_rows and _READS.match(sql):
            # The embedded engine reports no columns for an empty result; ask ClickHouse for them.
            described = self.client().query(f"DESCRIBE ({sql})", parameters=parameters, settings=settings)
            columns = [str(row[0]) for row in described.result_rows]
        return QueryResult(columns, list(result.result_rows))

    def insert_arrow(self, table: str, data: pa.Table, token: str | None = None) -> None:
        """Inserts a columnar batch; a repeated `token` is dropped by MergeTree (exactly-once replay)."""
        settings: dict[str, Any] = {"deduplicate_blocks_in_dependent_materialized_views": 1}
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
        }
        with _writing():
            if self.embedded:
                spool_dir.mkdir(parents=True, exist_ok=True)
                path = spool_dir / f"{signal}-{token}.pb"
                path.write_bytes(data)
                try:
                    self.client().command(otlp_native.insert_from_file(signal, str(path)), settings=settings)
                finally:
                    path.unlink(missing_ok=True)
            else:
                self.client().command(otlp_native.insert_from_input(signal), data=data, settings=settings)

    def supports_native_otlp(self) -> bool:
        """Whether ClickHouse can take an inline protobuf schema (format_schema_source, 24.x+)."""
        rows = self.query("SELECT count() FROM system.settings WHERE name = 'format_schema_source'").rows
        return bool(rows and rows[0][0])

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
