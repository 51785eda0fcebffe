"""TEST STAND-IN for a ClickHouse server: chDB (the real ClickHouse engine) behind the subset of
ClickHouse's HTTP interface that clickhouse-connect uses. It is not a server and not a fake of
one: every query runs on the engine; only the HTTP layer around it is re-created here, because
no modern ClickHouse server installs on the project machines (Debian ships 18.16).

What it re-creates, as https://clickhouse.com/docs/interfaces/http describes:

- the query in the `query` URL parameter, the body, or both (parameter first, then the body);
  `param_NAME` query parameters; every other URL parameter is a setting for that query only;
- `database`, `default_format`, `query_id` (echoed in X-ClickHouse-Query-Id; a second query with
  the id of a running one fails with code 216), `session_id` (SET and USE persist in the session;
  concurrent use of one session fails with code 373, SESSION_IS_LOCKED);
- inserts whose data follows `FORMAT name` in the body, and `INSERT ... SELECT ... FROM input(...)`
  reading the body; request bodies compressed with Content-Encoding lz4, zstd, gzip or deflate;
  responses compressed when `enable_http_compression=1` and the client accepts an encoding;
- users checked by HTTP basic auth, X-ClickHouse-User/X-ClickHouse-Key headers or the
  user/password parameters (code 516, HTTP 401); a readonly user (readonly=1: reads only, and
  no setting may be changed, code 164, HTTP 403);
- X-ClickHouse-Summary, X-ClickHouse-Format, X-ClickHouse-Timezone, X-ClickHouse-Exception-Code,
  and errors as the server writes them: `Code: NNN. DB::Exception: ... (NAME) (version ...)`.

HTTPS with `--tls-cert`/`--tls-key` (start_standin(tls=True) makes a self-signed certificate).
Not there: the native TCP protocol, progress headers, external data, async inserts, clusters.
One process owns its chDB data directory (chDB is process-global), so tests start it as a
subprocess on loopback, like moto_server:

    standin = start_standin(tmp_path)      # a Standin; standin.url is http://kokanee:secret@127.0.0.1:PORT/kokanee
    ...
    standin.stop()

or by hand: `python -m tests.chstandin --port 8123 --data /tmp/ch` (prints `listening on PORT`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import ipaddress
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# URL parameters the HTTP layer consumes; every other one is a setting of the query.
_TRANSPORT = frozenset(
    {
        "query", "database", "default_format", "session_id", "session_timeout", "session_check", "query_id",
        "user", "password", "quota_key", "buffer_size", "wait_end_of_query", "compress", "decompress",
        "client_protocol_version", "role", "enable_http_compression", "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
    }
)  # fmt: skip

_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESULT_STATEMENT = re.compile(r"\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN|CHECK)\b", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)\. ")
_NAME = re.compile(r"\(([A-Z_]+)\)\s*$")
_INPUT = re.compile(r"\binput\s*\(\s*('(?:[^'\\]|\\.)*')\s*\)", re.IGNORECASE)

# ClickHouse's HTTP status for an exception code (HTTPHandler's exceptionCodeToHTTPStatus, abridged).
_STATUS = {
    516: 401, 194: 401, 164: 403, 497: 403, 373: 403,
    62: 400, 47: 400, 53: 400, 43: 400, 46: 400, 115: 400, 27: 400, 26: 400, 72: 400, 6: 400, 36: 400,
    60: 404, 81: 404, 216: 409,
}  # fmt: skip


class ChError(Exception):
    """A ClickHouse exception: its code, name and message, as the server reports them."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code, self.name, self.message = code, name, message

    def body(self, version: str) -> str:
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name}) (version {version})\n"


def _engine_error(e: Exception) -> ChError:
    text = str(e).strip()
    text = text[text.find("Code: ") :] if "Code: " in text else text
    code = int(m.group(1)) if (m := _CODE.search(text)) else 1001
    name = m.group(1) if (m := _NAME.search(text)) else "STD_EXCEPTION"
    message = _NAME.sub("", _CODE.sub("", text, count=1)).strip().removeprefix("DB::Exception: ").rstrip(".")
    return ChError(code, name, message)


@dataclass(frozen=True)
class User:
    password: str
    readonly: bool = False


@dataclass
class _Session:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sets: list[str] = field(default_factory=list)
    database: str | None = None


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _top_level_keywords(text: str) -> Iterator[tuple[str, int, int]]:
    """(KEYWORD, start, end) of FORMAT and SETTINGS outside quotes, comments and parentheses."""
    i, depth, n = 0, 0, len(text)
    word = re.compile(r"(FORMAT|SETTINGS)\b", re.IGNORECASE)
    while i < n:
        c = text[i]
        if c in "'`\"":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("--", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif c == "(":
            depth, i = depth + 1, i + 1
        elif c == ")":
            depth, i = depth - 1, i + 1
        elif depth == 0 and not _in_word(text, i) and (m := word.match(text, i)):
            yield m.group(1).upper(), m.start(), m.end()
            i = m.end()
        else:
            i += 1


def _in_word(text: str, i: int) -> bool:
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


@dataclass(frozen=True)
class _Statement:
    sql: str
    data: bytes | None = None  # insert data following `FORMAT name`
    data_format: str = ""
    settings_at: int = -1  # where a top-level SETTINGS clause starts in `sql`, if any


def split_statement(query: bytes) -> _Statement:
    """Splits `INSERT ... FORMAT name <data>` into the statement and its data (the data starts
    after the format name, spaces and one line break, as ClickHouse reads it)."""
    head = query[: 1 << 20].decode("latin-1")  # byte offsets == character offsets
    if not re.match(r"\s*INSERT\b", head, re.IGNORECASE):
        return _Statement(query.decode())
    settings_at = -1
    for keyword, start, end in _top_level_keywords(head):
        if keyword == "SETTINGS" and settings_at < 0:
            settings_at = start
        if keyword == "FORMAT":
            m = re.compile(r"\s+(\w+)[ \t]*(\r?\n)?").match(head, end)
            if m is None:
                break
            data = query[m.end() :]
            return _Statement(query[:start].decode(), data, m.group(1), settings_at)
    return _Statement(query.decode())


class Engine:
    """chDB at `path`, one connection handle per request (0.8 ms), sessions replayed onto it."""

    def __init__(self, path: Path, database: str) -> None:
        import chdb  # the stand-in process's own engine; never imported by a process that has one

        self._chdb = chdb
        self.path = path
        self.spool = path / "insert-spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        first = chdb.connect(str(path))
        first.query(f"CREATE DATABASE IF NOT EXISTS `{database}`", "TSV")
        self.version = first.query("SELECT version()", "TSV").bytes().decode().strip()
        self.timezone = first.query("SELECT timezone()", "TSV").bytes().decode().strip()
        self._first = first  # keeps the engine open between requests
        self._sessions: dict[str, _Session] = {}
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def session(self, session_id: str) -> _Session:
        with self._lock:
            return self._sessions.setdefault(session_id, _Session())

    def claim_query_id(self, query_id: str) -> None:
        with self._lock:
            if query_id in self._running:
                message = f"Query with id = {query_id} is already running"
                raise ChError(216, "QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING", message)
            self._running.add(query_id)

    def release_query_id(self, query_id: str) -> None:
        with self._lock:
            self._running.discard(query_id)

    def run(
        self,
        statement: _Statement,
        fmt: str,
        settings: dict[str, str],
        params: dict[str, str],
        database: str | None,
        session: _Session | None,
        readonly: bool,
    ) -> tuple[bytes, dict[str, str]]:
        conn = self._chdb.connect(str(self.path))
        spooled: Path | None = None
        try:
            use = database or (session.database if session else None)
            if use:
                self._exec(conn, f"USE `{use}`")
            for replay in session.sets if session else ():
                self._exec(conn, replay)
            if readonly:
                self._check_unchanged(conn, settings)
                self._exec(conn, "SET readonly = 1")
            else:
                for name, value in settings.items():
                    if not _SETTING_NAME.fullmatch(name):
                        raise ChError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
                    self._exec(conn, f"SET {name} = {_quote(value)}")
            sql = statement.sql
            if statement.data is not None:
                spooled = self.spool / f"{uuid.uuid4().hex}.{statement.data_format}"
                spooled.write_bytes(statement.data)
                sql = self._reading_file(statement, spooled)
            try:
                result = conn.query(sql, fmt, params=params)
            except Exception as e:
                raise _engine_error(e) from e
            if session is not None:
                self._remember(session, sql)
            summary = {
                "read_rows": str(result.rows_read()), "read_bytes": str(result.bytes_read()),
                "written_rows": str(result.rows_written()), "written_bytes": str(result.bytes_written()),
                "total_rows_to_read": str(result.rows_read()), "result_rows": "0", "result_bytes": str(result.size()),
                "elapsed_ns": str(int(result.elapsed() * 1e9)),
            }  # fmt: skip
            return result.bytes() or b"", summary
        finally:
            conn.close()
            if spooled is not None:
                spooled.unlink(missing_ok=True)

    @staticmethod
    def _exec(conn: Any, sql: str) -> None:
        try:
            conn.query(sql, "TSV")
        except Exception as e:
            raise _engine_error(e) from e

    def _check_unchanged(self, conn: Any, settings: dict[str, str]) -> None:
        """A readonly=1 user may not change any setting (it may send one at its current value)."""
        if not settings:
            return
        names = ", ".join(_quote(n) for n in settings)
        current = dict(
            line.split("\t", 1)
            for line in conn.query(f"SELECT name, value FROM system.settings WHERE name IN ({names})", "TSV")
            .bytes()
            .decode()
            .splitlines()
        )
        for name, value in settings.items():
            if current.get(name) != value:
                raise ChError(164, "READONLY", f"Cannot modify '{name}' setting in readonly mode")

    @staticmethod
    def _remember(session: _Session, sql: str) -> None:
        """SET and USE last for the session, as on a server."""
        if re.match(r"\s*SET\s", sql, re.IGNORECASE):
            session.sets.append(sql)
        elif m := re.match(r"\s*USE\s+`?(\w+)`?\s*;?\s*$", sql, re.IGNORECASE):
            session.database = m.group(1)

    @staticmethod
    def _reading_file(statement: _Statement, path: Path) -> str:
        """The insert rewritten to read its data from `path`: `input(structure)` becomes
        `file(path, format, structure)`, and `INSERT INTO t (cols) [SETTINGS ...]` gains
        `FROM INFILE path ... FORMAT name` (chDB has no request body to read)."""
        sql = statement.sql
        if _INPUT.search(sql):
            source = f"file({_quote(str(path))}, {_quote(statement.data_format)}, "
            return _INPUT.sub(lambda m: f"{source}{m.group(1)})", sql)
        at = statement.settings_at if statement.settings_at >= 0 else len(sql)
        return f"{sql[:at]} FROM INFILE {_quote(str(path))} {sql[at:]} FORMAT {statement.data_format}"


def _decompress(data: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(data))
    if encoding == "zstd":
        from backports import zstd

        return bytes(zstd.decompress(data))
    raise ChError(1, "UNSUPPORTED_METHOD", f"Unknown Content-Encoding of HTTP request: {encoding}")


def _compress(data: bytes, accepted: str) -> tuple[bytes, str | None]:
    for encoding in (e.strip().split(";")[0] for e in accepted.split(",")):
        if encoding == "gzip":
            return gzip.compress(data, 1), "gzip"
        if encoding == "deflate":
            return zlib.compress(data, 1), "deflate"
        if encoding == "zstd":
            from backports import zstd

            return bytes(zstd.compress(data)), "zstd"
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.compress(data)), "lz4"
    return data, None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StandinServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        self._handle(body)

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()

    def _handle(self, body: bytes) -> None:
        url = urlsplit(self.path)
        if url.path in ("/ping", "/replicas_status"):
            self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        engine = self.server.engine
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": engine.timezone,
                   "X-ClickHouse-Server-Display-Name": "chstandin"}  # fmt: skip
        session: _Session | None = None
        claimed = False
        try:
            user = self._authenticate(params)
            if "session_id" in params:
                session = engine.session(params["session_id"])
                if not session.lock.acquire(blocking=False):
                    raise ChError(373, "SESSION_IS_LOCKED", "Session is locked by a concurrent client")
            engine.claim_query_id(query_id)
            claimed = True
            body = _decompress(body, self.headers.get("Content-Encoding", ""))
            query = params.get("query", "").encode()
            text = query + (b"\n" if query and body else b"") + body
            if not text.strip():
                raise ChError(62, "SYNTAX_ERROR", "Empty query")
            statement = split_statement(text)
            fmt = params.get("default_format") or "TabSeparated"
            trailing = re.search(r"\bFORMAT\s+(\w+)\s*;?\s*$", statement.sql, re.IGNORECASE)
            settings = {k: v for k, v in params.items() if k not in _TRANSPORT and not k.startswith("param_")}
            bind = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
            result, summary = engine.run(statement, fmt, settings, bind, params.get("database"), session, user.readonly)
            headers["X-ClickHouse-Summary"] = json.dumps(summary)
            if statement.data is None and (trailing or _RESULT_STATEMENT.match(statement.sql)):
                headers["X-ClickHouse-Format"] = trailing.group(1) if trailing else fmt
            if params.get("enable_http_compression") == "1" and result:
                result, encoding = _compress(result, self.headers.get("Accept-Encoding", ""))
                if encoding:
                    headers["Content-Encoding"] = encoding
            self._send(200, result, {"Content-Type": "application/octet-stream", **headers})
        except ChError as e:
            headers["X-ClickHouse-Exception-Code"] = str(e.code)
            body_text = e.body(engine.version).encode()
            self._send(_STATUS.get(e.code, 500), body_text, {"Content-Type": "text/plain; charset=UTF-8", **headers})
        finally:
            if claimed:
                engine.release_query_id(query_id)
            if session is not None and session.lock.locked():
                session.lock.release()

    def _authenticate(self, params: dict[str, str]) -> User:
        name, password = "default", ""
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        elif "X-ClickHouse-User" in self.headers:
            name, password = self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        elif "user" in params:
            name, password = params["user"], params.get("password", "")
        user = self.server.users.get(name)
        if user is None or user.password != password:
            raise ChError(
                516, "AUTHENTICATION_FAILED",
                f"{name}: Authentication failed: password is incorrect, or there is no user with such name",
            )  # fmt: skip
        return user

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine, users: dict[str, User]) -> None:
        super().__init__(address, _Handler)
        self.engine = engine
        self.users = users


# --------------------------------------------------------------------------- starting it from tests

USER, PASSWORD, DATABASE = "kokanee", "secret", "kokanee"
READER, READER_PASSWORD = "reader", "secret"


@dataclass
class Standin:
    """A running stand-in subprocess; `url` is the writer's store URL, `readonly_url` the reader's."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    ca_cert: Path | None = None  # with TLS: the self-signed certificate, which clients trust

    @property
    def url(self) -> str:
        return self._url(USER, PASSWORD)

    @property
    def readonly_url(self) -> str:
        return self._url(READER, READER_PASSWORD)

    def _url(self, user: str, password: str) -> str:
        if self.ca_cert is None:
            return f"http://{user}:{password}@127.0.0.1:{self.port}/{DATABASE}"
        return f"https://{user}:{password}@127.0.0.1:{self.port}/{DATABASE}?ca_cert={self.ca_cert}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_standin(tmp_path: Path, timeout: float = 30.0, tls: bool = False) -> Standin:
    """Starts the stand-in on a free loopback port with its chDB data under `tmp_path` (over HTTPS
    with a self-signed certificate for 127.0.0.1 when `tls`)."""
    data = tmp_path / "chstandin"
    data.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "chstandin.log"
    root = Path(__file__).resolve().parents[1]
    cert = _self_signed(tmp_path) if tls else None
    tls_args = ["--tls-cert", str(cert), "--tls-key", str(cert.with_suffix(".key"))] if cert else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.chstandin", "--port", "0", "--data", str(data), *tls_args],
        cwd=root, stdout=subprocess.PIPE, stderr=open(log_path, "ab"),  # noqa: SIM115 - the child owns it
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline and not line.startswith(b"listening on "):
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"the ClickHouse stand-in exited:\n{log_path.read_text(errors='replace')}")
    if not line.startswith(b"listening on "):
        proc.kill()
        raise RuntimeError("the ClickHouse stand-in did not start")
    return Standin(proc, int(line.split()[-1]), log_path, cert)


def _self_signed(directory: Path) -> Path:
    """A certificate (and its .key) for 127.0.0.1, valid for a day."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chstandin")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = directory / "chstandin-cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="TEST STAND-IN for a ClickHouse server (chDB behind HTTP).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123, help="0 picks a free port (printed)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "chstandin")
    parser.add_argument("--database", default=DATABASE, help="created at start")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this PEM certificate (and --tls-key)")
    parser.add_argument("--tls-key", type=Path)
    args = parser.parse_args()
    engine = Engine(args.data.resolve(), args.database)
    users = {
        "default": User(""),
        USER: User(PASSWORD),
        READER: User(READER_PASSWORD, readonly=True),
    }
    server = _StandinServer((args.host, args.port), engine, users)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
