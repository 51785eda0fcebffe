"""`kokanee replay FILE.tar` as a user runs it: from an exported session file, with a progress
bar, stopped by Ctrl-C (SIGINT) after the requests in flight. The receiver is the stand-in
OTLP/HTTP endpoint of test_replay_timeshift (a real HTTP server on loopback)."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from kokanee.capture import segment, sessions
from kokanee.capture.segment import SegmentMeta
from kokanee.pipeline.wal import WalRecord
from tests.test_capture_helpers import NS, trace_request
from tests.test_replay_timeshift import _Receiver, receiver

__all__ = ["receiver"]

BASE = 1_700_000_000 * NS


def _export(path: Path) -> None:
    """A session file with two trace requests that arrived a minute apart."""
    records = [WalRecord(i + 1, "traces", trace_request(BASE + i * NS, 1, f"cli{i}").SerializeToString(),
                         BASE + i * 60 * NS) for i in range(2)]  # fmt: skip
    data = segment.encode("traces", records)
    meta = SegmentMeta("traces/x.kcs.zst", "traces", 1, 2, BASE, BASE + 60 * NS, BASE, BASE + NS, ["cart-cli0"], 2, 8,
                       len(data))  # fmt: skip
    session = sessions.Session("s1", "cli", BASE - NS, BASE + 120 * NS, {})
    manifest = {"format": sessions.FORMAT, "session": session.to_json(), "segments": [meta.to_json()]}
    with tarfile.open(path, "w") as tar:
        for name, body in (("manifest.json", json.dumps(manifest).encode()), (f"segments/{meta.key}", data)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def test_ctrl_c_stops_a_replay_cleanly(receiver: tuple[str, type[_Receiver]], tmp_path: Path) -> None:
    url, handler = receiver
    exported = tmp_path / "session.tar"
    _export(exported)
    # A shell without job control starts background jobs with SIGINT ignored, and Python then
    # installs no Ctrl-C handler: the replay gets the disposition a terminal would give it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "kokanee", "replay", str(exported), "--to", url, "--speed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not handler.got and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert handler.got, "the first request never arrived"
    proc.send_signal(signal.SIGINT)  # the second is a minute away
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopped: 1 requests (4 traces)" in stderr
    assert [path for _, path, _ in handler.got] == ["/v1/traces"]


def test_replay_without_a_selection_says_what_is_missing() -> None:
    run = subprocess.run([sys.executable, "-m", "kokanee", "replay", "--to", "http://127.0.0.1:1"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 1
    assert "give a SESSION (id or exported file), or --start and --end" in run.stderr
