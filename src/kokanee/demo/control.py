"""The running demo's control API: list faults and switch them on and off over loopback HTTP.

    GET  /faults              {"active": [...], "kinds": {...}, "stats": {...}}
    POST /faults/KIND/on      body {"service": "cart", "value": 400}   (both optional)
    POST /faults/KIND/off     body {"service": "cart"}                 (optional: all services)

The standard library's threading server is enough for a handful of requests from a CLI, and keeps
the demo free of an event loop it would have to share with an embedding `kokanee serve`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import httpx

from kokanee.demo.faults import FAULT_KINDS, ActiveFault


class Controls(Protocol):
    def fault_on(self, kind: str, service: str | None, value: float | None) -> ActiveFault: ...
    def fault_off(self, kind: str, service: str | None) -> list[ActiveFault]: ...
    def active_faults(self) -> list[ActiveFault]: ...
    def stats(self) -> dict[str, Any]: ...


def kinds_json() -> dict[str, Any]:
    return {name: asdict(kind) for name, kind in FAULT_KINDS.items()}


class ControlServer:
    """Serves `controls` on 127.0.0.1:`port` (0 picks a free port, see `.port`) from a daemon thread."""

    def __init__(self, controls: Controls, port: int, host: str = "127.0.0.1") -> None:
        handler = type("_Handler", (_Handler,), {"controls": controls})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    controls: Controls

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the demo's console is its progress line; requests are not news

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/faults":
            self._reply(404, {"error": f"no such path {self.path}; try GET /faults"})
            return
        active = [asdict(f) for f in self.controls.active_faults()]
        self._reply(200, {"active": active, "kinds": kinds_json(), "stats": self.controls.stats()})

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "faults" or parts[2] not in ("on", "off"):
            self._reply(404, {"error": f"no such path {self.path}; try POST /faults/KIND/on or /faults/KIND/off"})
            return
        kind, action = parts[1], parts[2]
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            service = body.get("service")
            if action == "on":
                value = body.get("value")
                fault = self.controls.fault_on(kind, service, None if value is None else float(value))
                self._reply(200, {"fault": asdict(fault)})
            else:
                if kind not in FAULT_KINDS:
                    raise ValueError(f"unknown fault kind {kind!r}; known kinds: {', '.join(FAULT_KINDS)}")
                stopped = self.controls.fault_off(kind, service)
                self._reply(200, {"stopped": [asdict(f) for f in stopped]})
        except (ValueError, TypeError, AttributeError) as exc:
            self._reply(400, {"error": str(exc)})


class ControlError(Exception):
    """The control API refused or could not be reached; the message says which and why."""


def _request(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        r = httpx.request(method, url, json=body, timeout=10)
    except httpx.HTTPError as exc:
        raise ControlError(
            f"cannot reach the demo's control API at {url}: {exc}. Is `kokanee demo` running with --control-port?"
        ) from exc
    data: dict[str, Any] = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200:
        raise ControlError(data.get("error") or f"HTTP {r.status_code}: {r.text}")
    return data


def fault_on(control_url: str, kind: str, service: str | None = None, value: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"service": service, "value": value}
    return _request("POST", f"{control_url.rstrip('/')}/faults/{kind}/on", body)


def fault_off(control_url: str, kind: str, service: str | None = None) -> dict[str, Any]:
    return _request("POST", f"{control_url.rstrip('/')}/faults/{kind}/off", {"service": service})


def list_faults(control_url: str) -> dict[str, Any]:
    return _request("GET", f"{control_url.rstrip('/')}/faults")
