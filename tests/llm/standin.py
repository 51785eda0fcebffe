"""A stand-in HTTP server on loopback for APIs that cannot be reached from here (Anthropic's) and
for failure modes a real server will not produce on demand (429 with Retry-After, 503, hangs).

It answers each request with the next scripted reply — recorded response bodies and event streams
from tests/llm/recorded — and records what it was sent. It is NOT the real service: tests that
use it check kokanee's side of the protocol against the recorded shapes."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).parent / "recorded"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    chunks: list[bytes] | None = None  # sent one by one (an event stream)
    delay_s: float = 0.0


def json_reply(value: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps(value).encode(), {"content-type": "application/json", **headers})


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


def sse_reply(name: str) -> Reply:
    """A recorded event stream, sent event by event."""
    events = [e + b"\n\n" for e in recorded(name).strip().split(b"\n\n")]
    return Reply(200, b"", {"content-type": "text/event-stream"}, chunks=events)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class StandIn:
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                with stand_in._lock:
                    stand_in.seen.append(
                        Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"null"),
                             time.monotonic())
                    )  # fmt: skip
                    reply = stand_in.replies.pop(0) if stand_in.replies else Reply(500, b'{"error": "no more replies"}')
                time.sleep(reply.delay_s)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.chunks is None:
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for chunk in reply.chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
