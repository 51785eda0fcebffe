"""Sessions through the API and CLI: start/stop, after the fact, export to one file, import
elsewhere, replay from the file and from the API; bad input gets a 4xx naming the problem."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kokanee.capture import segment
from tests.server import KokaneeServer
from tests.test_capture_helpers import NS, log_request, trace_request


def _call(server: KokaneeServer, method: str, path: str, status: int, **kwargs: Any) -> Any:
    r = httpx.request(method, f"{server.api_url}/api/v1/capture{path}", timeout=60, **kwargs)
    assert r.status_code == status, r.text
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.content


def _poll(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)
    return result


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kokanee", *args], capture_output=True, text=True, timeout=300)


def test_sessions_export_import_and_replay(start_kokanee: Callable[..., KokaneeServer], tmp_path: Path) -> None:
    a = start_kokanee("--capture-segment-s", "1")
    started = time.time_ns()
    base = started - 20 * 60 * NS
    for i, request in enumerate((trace_request(base, 3, "se"), log_request(base, 4, "se"))):
        signal = ("traces", "logs")[i]
        r = httpx.post(f"{a.otlp_http_url}/v1/{signal}", content=request.SerializeToString(),
                       headers={"Content-Type": "application/x-protobuf"})  # fmt: skip
        assert r.status_code == 200
    after = _call(a, "POST", "/sessions", 201, json={"name": "after the fact", "start": started, "end": "now"})
    assert after["recording"] is False

    def complete() -> Any:
        body = _call(a, "GET", f"/sessions/{after['id']}", 200)
        return body if body["items"] == {"traces": 12, "logs": 4, "metrics": 0} else None

    detail = _poll("the session's segments", complete)
    listed = _call(a, "GET", "/sessions", 200)["sessions"]
    assert [s["name"] for s in listed if s["id"] == after["id"]] == ["after the fact"]

    # Export with the CLI: one tar holding the manifest and every segment, byte for byte.
    exported = tmp_path / "session.tar"
    run = _cli("session", "export", after["id"], "-o", str(exported), "--api", a.api_url)
    assert run.returncode == 0, run.stderr
    with tarfile.open(exported) as tar:
        names = set(tar.getnames())
        assert names == {"manifest.json"} | {f"segments/{m['key']}" for m in detail["segment_list"]}
        for meta in detail["segment_list"]:
            member = tar.extractfile(f"segments/{meta['key']}")
            assert member is not None
            assert segment.decode(member.read())[0] == meta["signal"]

    # Import into another kokanee; its copy of the session lists the same data.
    b = start_kokanee("--capture-segment-s", "1")
    run = _cli("session", "import", str(exported), "--api", b.api_url)
    assert run.returncode == 0, run.stderr
    imported = [s for s in _call(b, "GET", "/sessions", 200)["sessions"] if s["name"] == "after the fact"]
    assert len(imported) == 1 and imported[0]["labels"]["imported_from"] == after["id"]
    assert imported[0]["items"] == {"traces": 12, "logs": 4, "metrics": 0}

    # Replay from the file with the CLI, into a third kokanee, times as recorded.
    c = start_kokanee("--capture", "off")
    run = _cli("replay", str(exported), "--to", c.otlp_http_url, "--speed", "0", "--signals", "traces")
    assert run.returncode == 0, run.stderr
    spans = (
        "SELECT count() AS n, min(toUnixTimestamp64Nano(Timestamp)) AS t FROM otel_traces WHERE ServiceName = 'cart-se'"
    )
    got = c.wait_for(spans, lambda rows: rows[0]["n"] == 6)
    assert got == a.query(spans)
    assert c.query("SELECT count() AS n FROM otel_logs WHERE ServiceName = 'cart-se'") == [{"n": 0}]

    # And the imported session from b's API, rebased, into c again (logs only this time).
    job = _call(b, "POST", "/replays", 202, json={"session": imported[0]["id"], "to": c.otlp_http_url,
                                                  "speed": 0, "signals": ["logs"], "rebase_time": "now"})  # fmt: skip
    done = _poll("the replay", lambda: (j := _call(b, "GET", f"/replays/{job['id']}", 200))["state"] != "running" and j)
    assert done["state"] == "done" and done["sent_items"]["logs"] == 4
    logs = "SELECT count() AS n FROM otel_logs WHERE ServiceName = 'cart-se' AND Timestamp > now() - INTERVAL 5 MINUTE"
    c.wait_for(logs, lambda rows: rows[0]["n"] == 4)


def test_live_sessions_and_bad_input(start_kokanee: Callable[..., KokaneeServer]) -> None:
    server = start_kokanee("--capture-segment-s", "1")
    live = _call(server, "POST", "/sessions", 201, json={"name": "fault: payment failure", "labels": {"k": "v"}})
    assert live["recording"] is True and live["end"] is None
    stopped = _call(server, "POST", f"/sessions/{live['id']}/stop", 200)
    assert stopped["recording"] is False and stopped["end"] > stopped["start"]
    assert "already stopped" in _call(server, "POST", f"/sessions/{live['id']}/stop", 409)["error"]
    assert "no session" in _call(server, "GET", "/sessions/nope", 404)["error"]
    assert "name" in _call(server, "POST", "/sessions", 400, json={"name": ""})["error"]
    assert (
        "end must come after"
        in _call(server, "POST", "/sessions", 400, json={"name": "x", "start": 10, "end": 5})["error"]
    )
    assert "start" in _call(server, "POST", "/sessions", 400, json={"name": "x", "start": "yesterday"})["error"]
    assert "manifest" in _call(server, "POST", "/sessions/import", 400, content=_tar({"other.txt": b"x"}))["error"]
    assert "readable" in _call(server, "POST", "/sessions/import", 400, content=b"not a tar")["error"]
    assert "http" in _call(server, "POST", "/replays", 400, json={"session": live["id"], "to": "nowhere"})["error"]
    assert "session, or both" in _call(server, "POST", "/replays", 400, json={"to": "http://127.0.0.1:1"})["error"]
    assert "unknown signal" in _call(server, "GET", "/segments", 400, params={"signals": "spans"})["error"]
    run = _cli("retention", "--api", server.api_url)  # no policies here: a dry run with nothing to do
    assert run.returncode == 0, run.stderr
    assert "dry run: 0 deleted, 0 archived, 0 bytes freed, 0 errors" in run.stdout
    _call(server, "DELETE", f"/sessions/{live['id']}", 200)
    assert all(s["id"] != live["id"] for s in _call(server, "GET", "/sessions", 200)["sessions"])


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
