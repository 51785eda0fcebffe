"""A real `kokanee serve` in a subprocess on free loopback ports, for tests.

Tests talk to it the way users do: OTLP on its receivers, JSON on its API.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """Distinct free ports: the sockets stay bound until all are chosen, so none repeats."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class _PortTaken(Exception):
    pass


class KokaneeServer:
    def __init__(self, data_dir: Path, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.grpc_port, self.http_port, self.api_port = free_ports(3)
        self.extra_args = list(extra_args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.api_token: str | None = None
        for i, arg in enumerate(self.extra_args):
            if arg == "--api-token":
                self.api_token = self.extra_args[i + 1]

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 60.0) -> KokaneeServer:
        """Starts `kokanee serve` and waits until it is healthy. A first start whose port was taken
        between choosing it and binding it (a neighbour's server, a client's ephemeral port) tries
        again on fresh ports; a restart keeps its ports, which its clients know."""
        first = self.proc is None
        for attempt in range(3):
            try:
                return self._start(timeout)
            except _PortTaken:
                if not first or attempt == 2:
                    raise RuntimeError(f"kokanee exited, a port taken:\n{self.log()}") from None
                self.grpc_port, self.http_port, self.api_port = free_ports(3)
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> KokaneeServer:
        cmd = [
            sys.executable, "-m", "kokanee", "serve",
            "--data-dir", str(self.data_dir),
            "--otlp-grpc-port", str(self.grpc_port),
            "--otlp-http-port", str(self.http_port),
            "--http-port", str(self.api_port),
            *self.extra_args,
        ]  # fmt: skip
        began = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if b"address already in use" in self.log_path.read_bytes()[began:]:
                    raise _PortTaken
                raise RuntimeError(f"kokanee exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(f"{self.api_url}/api/v1/health", headers=self._auth(), timeout=2)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"kokanee did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.api_url}{path}", params=params, headers=self._auth(), timeout=30)
        r.raise_for_status()
        return r.json()

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a read-only SELECT, through the API's query sandbox, as dicts."""
        r = httpx.post(f"{self.api_url}/api/v1/query", json={"sql": sql}, headers=self._auth(), timeout=60)
        if r.status_code != 200:
            raise AssertionError(f"query failed ({r.status_code}): {r.text}")
        body = r.json()
        return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]

    def wait_for(
        self, sql: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Polls `sql` until `until(rows)` holds: stored data shows up after the pipeline's flush."""
        deadline = time.monotonic() + timeout
        rows = self.query(sql)
        while not until(rows):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting on {sql!r}; last rows: {rows[:5]}")
            time.sleep(0.2)
            rows = self.query(sql)
        return rows

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)
