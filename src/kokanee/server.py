"""`kokanee serve`: the composition root. Builds every component from config, runs the listeners,
and stops them in order (listeners first, then the pipeline drains into the store)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from kokanee.ai.router import Router
from kokanee.ai.settings import AiSettings
from kokanee.alerts.service import Alerting
from kokanee.analysis.detector import Detector
from kokanee.analysis.health import Slo
from kokanee.api.app import create_app
from kokanee.api.auth.bootstrap import start_auth
from kokanee.api.auth.roles import DEMO_IDENTITY
from kokanee.api.meta import meta_app
from kokanee.capture.objectstore import Locations
from kokanee.capture.retention import Retention, load_policies
from kokanee.capture.setup import open_capture
from kokanee.config import ServeConfig, parse_sample
from kokanee.derive.runner import Deriver
from kokanee.ingest.grpc import otlp_grpc_server
from kokanee.ingest.http import otlp_http_app
from kokanee.ingest.receiver import Decoder
from kokanee.pipeline.pipeline import Pipeline
from kokanee.pipeline.wal import WriteAheadLog
from kokanee.roles import role_parts
from kokanee.store.client import Store
from kokanee.store.memory import release_engine_code, resident_bytes
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
    parts = role_parts(config.role)
    memory = config.memory
    store = Store(config.store_url, config.cluster, memory)
    migrate(store)
    engine_limits = store.engine_limits()  # as the engine applied them; shown with health
    native = NATIVE_SIGNALS if config.decoder == "native" and store.supports_native_otlp() else frozenset()
    decoder = Decoder(native)
    # What stops, in order, once the listeners are closed: ingest drains into the store first.
    stops: list[Callable[[], None]] = []
    pipeline: Pipeline | None = None
    capture = None
    capture_locations = Locations(config.capture_endpoint)  # segments name the object store that holds them
    if parts.ingest:
        wal = WriteAheadLog(config.wal_dir, config.wal_segment_mib * 1024 * 1024)
        pipeline = Pipeline(
            wal, store, decoder.replay, config.max_pending_bytes, config.flush_interval_s,
            memory.batch_rows(config.flush_rows, config.insert_streams) if store.embedded else config.flush_rows,
            spool_dir=config.data_dir / "spool", max_resident_bytes=memory.total_bytes,
            insert_streams=config.insert_streams,
        )  # fmt: skip
        capture, capture_locations = open_capture(
            wal, store, config.data_dir, config.capture, config.capture_endpoint,
            parse_sample(config.capture_sample), config.capture_segment_mib, config.capture_segment_s,
        )  # fmt: skip
        replayed = pipeline.start()
        stops.append(functools.partial(pipeline.stop, 30.0))
        if replayed:
            log.info("replaying %d write-ahead log records into the store", replayed)
        if capture is not None:
            capture.start()
            stops.append(functools.partial(capture.stop, 10.0))
            log.info("capturing raw OTLP into %s", capture.objects.url)
    # The API reads alerting's rules, outbox and reports and retention's policies; only the jobs run them.
    alerting = Alerting(
        store, interval_s=config.alert_interval_s, settle_s=config.servicegraph_wait_s,
        public_url=config.public_url or f"http://{_local(config.host)}:{config.http_port}",
        alerts_file=config.alerts_file,
    )  # fmt: skip
    retention = Retention(store, capture_locations, load_policies(config.capture_retention))
    ai_settings = AiSettings(store, config.ai_config)  # saved from the UI, else file and env
    alerting.reports.router = Router(ai_settings.effective(), store)  # scheduled review reports summarise with it
    if parts.jobs:
        deriver = Deriver(store, wait_s=config.servicegraph_wait_s, user_client=config.user_client)
        detector = Detector(store)
        retention.start()
        deriver.start()
        detector.start()
        alerting.start()
        stops += [
            functools.partial(retention.stop, 10.0), functools.partial(deriver.stop, 10.0),
            functools.partial(detector.stop, 30.0), functools.partial(alerting.stop, 10.0),
        ]  # fmt: skip
    log.info(
        "role %s; store %s (flattening %s in ClickHouse)",
        config.role, store.redacted_url, ", ".join(sorted(native)) or "nothing",
    )  # fmt: skip

    def status() -> dict[str, Any]:
        memory_status = {**memory.as_status(), "engine": engine_limits, "resident_bytes": resident_bytes()}
        if pipeline is None:
            return {"role": config.role, "memory": memory_status}
        return {
            "role": config.role,
            "memory": memory_status,
            "pipeline_pending_bytes": pipeline.pending_bytes,
            "store_accepting_writes": pipeline.store_ok,
        }

    servers: list[_Server] = []
    if pipeline is not None and config.otlp_http_port:
        http_app = otlp_http_app(pipeline, decoder, config.max_request_bytes, config.ingest_token)
        servers.append(_uvicorn(http_app, config.host, config.otlp_http_port))
    if parts.api:
        auth = start_auth(store, config.auth, config.host, config.api_token, config.admin_password)
        api = create_app(store, config.api_token, status, auth=auth)
        api.state.slo = Slo(
            error_rate_critical=config.slo_error_rate,
            error_rate_degraded=config.slo_error_rate / 5,
            latency_ns=int(config.slo_latency_ms * 1_000_000),
        )
        api.state.user_client = config.user_client
        api.state.capture = capture
        api.state.capture_locations = capture_locations
        api.state.capture_retention = retention
        api.state.alerting = alerting
        api.state.ai_settings = ai_settings
        api.state.ai_router = alerting.reports.router
    else:
        api = meta_app(store, status)  # health and metrics for the orchestrator's probes
    servers.append(_uvicorn(api, config.host, config.http_port))
    grpc_server = None
    if pipeline is not None and config.otlp_grpc_port:
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
    if pipeline is not None and config.otlp_http_port:
        log.info(
            "OTLP/HTTP listening on http://%s:%d (/v1/traces, /v1/metrics, /v1/logs)",
            config.host,
            config.otlp_http_port,
        )
    if parts.api:
        log.info("API and UI on http://%s:%d (docs at /docs)", config.host, config.http_port)
    else:
        log.info("health and metrics on http://%s:%d", config.host, config.http_port)
    if store.embedded:
        release_engine_code()  # chDB's start-up code, run once: its pages go back (idle RSS -~120 MiB)

    demo_stop = threading.Event()
    if config.demo:
        # The demo is a client like any other: it sends the receiver's token, and its fault labels
        # carry an editor's token that only this process knows.
        auth_state = getattr(api.state, "auth", None)
        labels_token = auth_state.grant(DEMO_IDENTITY) if auth_state is not None and auth_state.enabled else None
        _start_demo(config, demo_stop, labels_token)

    await stop.wait()
    log.info("stopping: closing listeners, then writing pending data")
    demo_stop.set()
    if grpc_server is not None:
        await grpc_server.stop(grace=5)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for stop_part in stops:
        await asyncio.to_thread(stop_part)
    store.close()
    log.info("stopped")


def _local(host: str) -> str:
    """An address to reach a listener bound to `host` by (a wildcard is not one)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def _start_demo(config: ServeConfig, stop: threading.Event, api_token: str | None) -> None:
    """The demo shop in a thread, sending to this server over loopback like any other client: first an
    hour of history, so the anomaly detector has baselines, then live with its faults."""
    from kokanee.demo.serve import serve_config, start

    host = _local(config.host)
    try:
        demo = serve_config(
            f"http://{host}:{config.otlp_http_port}",
            f"http://{host}:{config.http_port}",
            config.data_dir / "demo-fault-labels.jsonl",
            ingest_token=config.ingest_token,
            api_token=api_token,
        )
    except ValueError as e:
        log.error("the demo is not started: %s", e)
        return
    start(demo, stop)
