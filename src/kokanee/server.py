"""`kokanee serve`: the composition root. Builds every component from config, runs the listeners,
and stops them in order (listeners first, then the pipeline drains into the store)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from kokanee.ai.router import Router
from kokanee.ai.settings import AiSettings
from kokanee.alerts.service import Alerting
from kokanee.analysis.detector import Detector
from kokanee.analysis.health import Slo
from kokanee.api.app import create_app
from kokanee.capture.retention import Retention, load_policies
from kokanee.capture.setup import open_capture
from kokanee.config import ServeConfig, parse_sample
from kokanee.derive.runner import Deriver
from kokanee.ingest.grpc import otlp_grpc_server
from kokanee.ingest.http import otlp_http_app
from kokanee.ingest.receiver import Decoder
from kokanee.pipeline.pipeline import Pipeline
from kokanee.pipeline.wal import WriteAheadLog
from kokanee.store.client import Store
from kokanee.store.migrations import migrate
from kokanee.store.otlp_native import NATIVE_SIGNALS

log = logging.getLogger("kokanee")


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to kokanee, which runs several servers in one loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DataDirInUse(RuntimeError):
    pass


@contextlib.contextmanager
def _lock_data_dir(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise DataDirInUse(f"another kokanee is using {data_dir} (one process owns a data directory)") from e
        yield
    finally:
        os.close(fd)


def _uvicorn(app: Any, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return _Server(config)


def run(config: ServeConfig) -> None:
    config = config.model_copy(update={"data_dir": config.data_dir.resolve()})
    with _lock_data_dir(config.data_dir):
        # ClickHouse caches inline protobuf schemas under the working directory; keep them with the data.
        os.chdir(config.data_dir)
        asyncio.run(_serve(config))


async def _serve(config: ServeConfig) -> None:
    store = Store(config.store_url)
    migrate(store)
    native = NATIVE_SIGNALS if config.decoder == "native" and store.supports_native_otlp() else frozenset()
    decoder = Decoder(native)
    wal = WriteAheadLog(config.wal_dir, config.wal_segment_mib * 1024 * 1024)
    pipeline = Pipeline(
        wal, store, decoder.replay, config.max_pending_bytes, config.flush_interval_s, config.flush_rows,
        spool_dir=config.data_dir / "spool",
    )  # fmt: skip
    capture, capture_locations = open_capture(
        wal, store, config.data_dir, config.capture, config.capture_endpoint,
        parse_sample(config.capture_sample), config.capture_segment_mib, config.capture_segment_s,
    )  # fmt: skip
    replayed = pipeline.start()
    if capture is not None:
        capture.start()
        log.info("capturing raw OTLP into %s", capture.objects.url)
    deriver = Deriver(store, wait_s=config.servicegraph_wait_s, user_client=config.user_client)
    deriver.start()
    detector = Detector(store)
    detector.start()
    alerting = Alerting(
        store, interval_s=config.alert_interval_s, settle_s=config.servicegraph_wait_s,
        public_url=config.public_url or f"http://{_local(config.host)}:{config.http_port}",
        alerts_file=config.alerts_file,
    )  # fmt: skip
    alerting.start()
    if replayed:
        log.info("replaying %d write-ahead log records into the store", replayed)
    log.info("store %s (flattening %s in ClickHouse)", store.redacted_url, ", ".join(sorted(native)) or "nothing")

    def status() -> dict[str, Any]:
        return {"pipeline_pending_bytes": pipeline.pending_bytes, "store_accepting_writes": pipeline.store_ok}

    servers: list[_Server] = []
    if config.otlp_http_port:
        http_app = otlp_http_app(pipeline, decoder, config.max_request_bytes, config.ingest_token)
        servers.append(_uvicorn(http_app, config.host, config.otlp_http_port))
    api = create_app(store, config.api_token, status)
    api.state.slo = Slo(
        error_rate_critical=config.slo_error_rate,
        error_rate_degraded=config.slo_error_rate / 5,
        latency_ns=int(config.slo_latency_ms * 1_000_000),
    )
    api.state.user_client = config.user_client
    api.state.capture = capture
    api.state.capture_locations = capture_locations
    retention = Retention(store, capture_locations, load_policies(config.capture_retention))
    retention.start()
    api.state.capture_retention = retention
    api.state.alerting = alerting
    api.state.ai_settings = AiSettings(store, config.ai_config)  # saved from the UI, else file and env
    api.state.ai_router = Router(api.state.ai_settings.effective(), store)
    alerting.reports.router = api.state.ai_router  # scheduled review reports summarise with it
    servers.append(_uvicorn(api, config.host, config.http_port))
    grpc_server = None
    if config.otlp_grpc_port:
        address = f"{config.host}:{config.otlp_grpc_port}"
        grpc_server = otlp_grpc_server(pipeline, decoder, address, config.max_request_bytes, config.ingest_token)
        await grpc_server.start()
        log.info("OTLP/gRPC listening on %s", address)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            for task in tasks:
                if task.done() and task.exception():
                    raise RuntimeError(f"a listener failed to start: {task.exception()}")
            raise RuntimeError("a listener failed to start (is the port in use?)")
        await asyncio.sleep(0.02)
    if config.otlp_http_port:
        log.info(
            "OTLP/HTTP listening on http://%s:%d (/v1/traces, /v1/metrics, /v1/logs)",
            config.host,
            config.otlp_http_port,
        )
    log.info("API and UI on http://%s:%d (docs at /docs)", config.host, config.http_port)

    demo_stop = threading.Event()
    if config.demo and config.ingest_token:
        log.warning("the demo sends no token: with --ingest-token set it is not started")
    elif config.demo:
        _start_demo(config, demo_stop)

    await stop.wait()
    log.info("stopping: closing listeners, then writing pending data")
    demo_stop.set()
    if grpc_server is not None:
        await grpc_server.stop(grace=5)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.to_thread(pipeline.stop, 30.0)
    if capture is not None:
        await asyncio.to_thread(capture.stop, 10.0)
    await asyncio.to_thread(retention.stop, 10.0)
    await asyncio.to_thread(deriver.stop, 10.0)
    await asyncio.to_thread(detector.stop, 30.0)
    await asyncio.to_thread(alerting.stop, 10.0)
    store.close()
    log.info("stopped")


def _local(host: str) -> str:
    """An address to reach a listener bound to `host` by (a wildcard is not one)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def _start_demo(config: ServeConfig, stop: threading.Event) -> None:
    """The demo shop in a thread, sending to this server over loopback like any other client."""
    from kokanee.demo.runner import DemoConfig, run_demo
    from kokanee.demo.schedule import DEFAULT_SCHEDULE, parse_fault

    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    demo = DemoConfig(
        endpoint=f"http://{host}:{config.otlp_http_port}",
        api_url=f"http://{host}:{config.http_port}",
        faults=tuple(parse_fault(spec) for spec in DEFAULT_SCHEDULE),
        labels_file=config.data_dir / "demo-fault-labels.jsonl",
        control_port=0,
    )

    def run() -> None:
        try:
            run_demo(demo, stop)
        except Exception:  # the demo must never take the server down
            log.exception("the demo stopped")

    threading.Thread(target=run, name="kokanee-demo", daemon=True).start()
    log.info("demo shop running; fault schedule: %s (labels in %s)", ", ".join(DEFAULT_SCHEDULE), demo.labels_file)
