"""A real-time demo run that starts with history: an hour (here: minutes) of the shop's traffic in the
past, sent as fast as the exporters take it, then live on the wall clock; faults may sit in the history.
And the demo `kokanee serve --demo` runs: its settings from KOKANEE_DEMO_* variables."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from kokanee.demo.runner import DemoConfig, DemoRun
from kokanee.demo.schedule import parse_fault
from kokanee.demo.serve import FAULTS_ENV, HISTORY_ENV, SERVE_SCHEDULE, Progress, serve_config
from kokanee.demo.telemetry import Exporters
from tests.server import KokaneeServer

NS = 1_000_000_000


def _run_with_history(history_s: float, faults: tuple[str, ...] = ()) -> tuple[DemoRun, InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    config = DemoConfig(
        rate=2,
        duration_s=1.0,  # one second live after the history
        history_s=history_s,
        seed=5,
        faults=tuple(parse_fault(f) for f in faults),
        run_id="history-test",
    )
    run = DemoRun(config, Exporters(spans, InMemoryLogRecordExporter(), InMemoryMetricReader, batch=False))
    run.run(threading.Event())
    return run, spans


def test_history_is_sent_first_then_the_run_is_live() -> None:
    run, spans = _run_with_history(180)
    starts = sorted(s.start_time or 0 for s in spans.get_finished_spans())
    assert run.start_ns - run.origin_ns == 180 * NS
    # The history covers the three minutes before the start, without gaps a detector would read as
    # an outage; the live second follows it.
    assert starts[0] - run.origin_ns < 5 * NS
    minutes = {(t - run.origin_ns) // (60 * NS) for t in starts if t < run.start_ns}
    assert minutes == {0, 1, 2}
    assert any(run.start_ns <= t < run.start_ns + NS for t in starts)
    assert not run.catching_up(time.time_ns())
    assert run.catching_up(run.origin_ns)


def test_a_fault_in_the_history_is_in_its_minutes_and_labelled_there() -> None:
    run, spans = _run_with_history(240, ("payment_failure=1@-3m:1m",))
    begin, end = run.start_ns - 180 * NS, run.start_ns - 120 * NS
    payments = [
        s for s in spans.get_finished_spans() if s.name == "oteldemo.PaymentService/Charge" and s.kind.name == "SERVER"
    ]
    failed = [s.start_time or 0 for s in payments if s.status.status_code is StatusCode.ERROR]
    # A journey that began inside the fault may reach payment a few seconds after it ended.
    assert failed and all(begin <= t < end + 30 * NS for t in failed)
    assert any((s.start_time or 0) >= end and s.status.status_code is not StatusCode.ERROR for s in payments)
    [started, stopped] = run.labels.written
    assert (started["start"], started["end"]) == (begin, None)
    assert (stopped["start"], stopped["end"]) == (begin, end)


def test_faults_before_the_history_or_history_in_a_backfill_are_refused() -> None:
    with pytest.raises(ValueError, match="starts 600s before the start, but the run has 300s of history"):
        DemoConfig(history_s=300, faults=(parse_fault("payment_failure@-10m:1m"),))
    with pytest.raises(ValueError, match="history_s is for real-time runs"):
        DemoConfig(realtime=False, duration_s=60, history_s=60)


def test_negative_offsets_parse() -> None:
    f = parse_fault("network_delay/cart=300@-20m:4m")
    assert (f.kind, f.service, f.value, f.start_s, f.duration_s) == ("network_delay", "cart", 300.0, -1200.0, 240.0)
    assert parse_fault("payment_failure@+1m").start_s == 60.0


def test_serve_demo_defaults_an_hour_of_history_and_a_fault_in_it_and_one_live() -> None:
    config = serve_config("http://127.0.0.1:4318", "http://127.0.0.1:8080", labels_file=None, env={})
    assert config.history_s == 3600 and config.realtime
    assert [f.start_s < 0 for f in config.faults] == [True, False]
    assert len(config.faults) == len(SERVE_SCHEDULE)


def test_serve_demo_reads_its_variables() -> None:
    env = {HISTORY_ENV: "15m", FAULTS_ENV: "payment_failure=1@-4m:2m, network_delay/cart@+30s:1m"}
    config = serve_config("http://h:1", "http://h:2", labels_file=None, env=env)
    assert config.history_s == 900
    assert [(f.kind, f.start_s, f.duration_s) for f in config.faults] == [
        ("payment_failure", -240.0, 120.0),
        ("network_delay", 30.0, 60.0),
    ]
    assert serve_config("http://h:1", "http://h:2", None, {FAULTS_ENV: "none"}).faults == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({HISTORY_ENV: "an hour"}, "KOKANEE_DEMO_HISTORY: "),
        ({FAULTS_ENV: "payment_failure@soon"}, "KOKANEE_DEMO_FAULTS: "),
        ({HISTORY_ENV: "5m", FAULTS_ENV: "payment_failure@-10m:1m"}, "300s of history"),
    ],
)
def test_serve_demo_names_a_bad_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        serve_config("http://h:1", "http://h:2", None, env)


def test_progress_says_how_far_the_history_is_then_that_it_is_live(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="kokanee.demo")
    spans = InMemorySpanExporter()
    run = DemoRun(
        DemoConfig(rate=2, duration_s=0.5, history_s=120, seed=2),
        Exporters(spans, InMemoryLogRecordExporter(), InMemoryMetricReader, batch=False),
    )
    progress = Progress()
    run.state.now_ns = run.origin_ns + 60 * NS
    progress(run)
    run.run(threading.Event(), progress)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("demo: sending history 1/2 min")
    assert lines[-1].startswith("demo: sent 2 minutes of history (") and lines[-1].endswith("the shop runs live now")
    assert sum("the shop runs live now" in line for line in lines) == 1


def test_served_demo_sends_the_servers_tokens_when_auth_is_on(tmp_path: Path) -> None:
    """With an ingest token and auth on, the served demo's data and its fault labels still arrive:
    it sends the receiver's token, and labels go with a token only that server process holds."""
    env = {HISTORY_ENV: "2m", FAULTS_ENV: "payment_failure=1@-90s:30s"}
    server = KokaneeServer(
        tmp_path / "data", "--demo", "--ingest-token", "ingest-secret", "--api-token", "api-secret", env=env
    ).start()
    try:
        server.wait_for(
            "SELECT count() AS n FROM otel_traces WHERE ServiceName = 'payment'", lambda rows: rows[0]["n"] > 0, 120
        )
        deadline = time.monotonic() + 60
        labels = server.get("/api/v1/fault-labels")
        while not any(label["service"] == "payment" and label["end"] for label in labels["labels"]):
            if time.monotonic() > deadline:
                pytest.fail(f"no closed payment label after 60 s: {labels}\n{server.log()[-2000:]}")
            time.sleep(0.5)
            labels = server.get("/api/v1/fault-labels")
        assert "could not post fault label" not in server.log()
        # Without a token the API still refuses, so the demo's access came from its own token.
        assert httpx.get(f"{server.api_url}/api/v1/fault-labels", timeout=10).status_code == 401
    finally:
        server.stop()
