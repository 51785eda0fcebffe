"""`kokanee demo` (run the simulated shop) and `kokanee demo-fault on|off|list` (steer a running one)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kokanee.demo import control
from kokanee.demo.faults import FAULT_KINDS
from kokanee.demo.runner import DemoConfig, DemoRun
from kokanee.demo.schedule import DEFAULT_SCHEDULE, parse_fault
from kokanee.store.timeparse import positive_seconds

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"
DEFAULT_CONTROL_PORT = 4320
DEFAULT_API_URL = "http://127.0.0.1:8080"
_KINDS = ", ".join(FAULT_KINDS)


def demo_command(
    endpoint: Annotated[
        str,
        typer.Option("--endpoint", help="OTLP endpoint (base URL); with --protocol grpc the default is :4317."),
    ] = DEFAULT_ENDPOINT,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="kokanee API that receives fault labels; '' for none.")
    ] = DEFAULT_API_URL,
    rate: Annotated[float, typer.Option("--rate", min=0.01, help="Mean user journeys per second.")] = 5.0,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration", parser=positive_seconds, help="How long to run (90, 90s, 5m, 1h30m); default: until Ctrl-C."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: same seed, same journeys, latencies and faults.")
    ] = 1,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="KIND\\[/SERVICE]\\[=VALUE]\\[@+START\\[:DURATION]], repeatable, "
            "e.g. payment_failure@+5m:10m. "
            f"Default: {' '.join(DEFAULT_SCHEDULE)}; 'none' for no faults. Kinds: {_KINDS}.",
        ),
    ] = None,
    protocol: Annotated[str, typer.Option("--protocol", help="OTLP protocol: http (protobuf) or grpc.")] = "http",
    labels_file: Annotated[
        Path | None, typer.Option("--labels-file", help="Append fault labels (JSON lines) to this file.")
    ] = None,
    control_port: Annotated[
        int | None,
        typer.Option("--control-port", help="Port of the fault control API on 127.0.0.1 (0: any)."),
    ] = DEFAULT_CONTROL_PORT,
    ingest_token: Annotated[
        str | None,
        typer.Option("--ingest-token", envvar="KOKANEE_INGEST_TOKEN", help="Bearer token the OTLP receiver wants."),
    ] = None,
    api_token: Annotated[
        str | None,
        typer.Option(
            "--api-token", envvar="KOKANEE_API_TOKEN", help="API token (editor or above) for posting fault labels."
        ),
    ] = None,
) -> None:
    """Run the simulated astronomy shop (the OpenTelemetry Demo) and send its telemetry over OTLP."""
    console = Console(stderr=True)
    specs = [] if fault == ["none"] else (fault or list(DEFAULT_SCHEDULE))
    try:
        faults = tuple(parse_fault(s) for s in specs)
        if protocol == "grpc" and endpoint == DEFAULT_ENDPOINT:
            endpoint = DEFAULT_GRPC_ENDPOINT
        config = DemoConfig(
            endpoint=endpoint,
            protocol=protocol,
            api_url=api_url or None,
            rate=rate,
            duration_s=duration,
            seed=seed,
            faults=faults,
            labels_file=labels_file,
            control_port=control_port,
            ingest_token=ingest_token,
            api_token=api_token,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    once = _OncePerMessage()
    for handler in logging.getLogger().handlers:  # handlers see child loggers too
        handler.addFilter(once)
    run = DemoRun(config)
    where = f"; control API {run.control.url}" if run.control else ""
    console.print(f"demo run {run.run_id}: {protocol} → {endpoint}{where}")
    for f in faults:
        until = f"for {f.duration_s:g}s" if f.duration_s is not None else "to the end"
        console.print(f"  fault {f.kind} on {f.service} at +{f.start_s:g}s {until}")
    _run_with_progress(run, console)


class _OncePerMessage(logging.Filter):
    """An unreachable endpoint makes every exporter of every service say the same thing; say it once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name.rsplit(".", 1)[0], str(record.msg)[:40])
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def _run_with_progress(run: DemoRun, console: Console) -> None:
    stop = threading.Event()
    total = run.config.duration_s
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=total)

        def update(r: DemoRun) -> None:
            s = r.sim.stats
            active = ", ".join(f"{f.kind}/{f.service}" for f in r.board.active()) or "none"
            counts = f"journeys {s.journeys}  spans {s.spans}  logs {s.logs}  errors {s.errors}"
            elapsed = (r.state.now_ns - r.origin_ns) / 1e9
            progress.update(task, completed=elapsed, description=f"{counts}  faults: {active}")

        worker = threading.Thread(target=run.run, args=(stop, update), name="demo", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.5)
        except KeyboardInterrupt:
            stop.set()
            progress.update(task, description="stopping: flushing telemetry and closing faults")
            worker.join()


demo_fault_app = typer.Typer(help="Switch faults on and off in a running `kokanee demo`.", no_args_is_help=True)

_Control = Annotated[str, typer.Option("--control", help="The running demo's control API.")]
_CONTROL_URL = f"http://127.0.0.1:{DEFAULT_CONTROL_PORT}"


def _call(fn: Callable[..., dict[str, Any]], *args: object) -> dict[str, Any]:
    try:
        result = fn(*args)
    except control.ControlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    return result


@demo_fault_app.command("on")
def fault_on_command(
    kind: Annotated[str, typer.Argument(help=f"Fault kind: {_KINDS}.")],
    service: Annotated[str | None, typer.Option("--service", help="Target (network_delay, cpu_contention).")] = None,
    value: Annotated[float | None, typer.Option("--value", help="Strength; `list` says what it means.")] = None,
    control_url: _Control = _CONTROL_URL,
) -> None:
    """Switch a fault on now."""
    typer.echo(json.dumps(_call(control.fault_on, control_url, kind, service, value)["fault"]))


@demo_fault_app.command("off")
def fault_off_command(
    kind: Annotated[str, typer.Argument(help="Fault kind.")],
    service: Annotated[str | None, typer.Option("--service", help="Only this service (default: all).")] = None,
    control_url: _Control = _CONTROL_URL,
) -> None:
    """Switch a fault off now."""
    typer.echo(json.dumps(_call(control.fault_off, control_url, kind, service)["stopped"]))


@demo_fault_app.command("list")
def fault_list_command(control_url: _Control = _CONTROL_URL) -> None:
    """Active faults, the kinds there are, and the run's counters."""
    typer.echo(json.dumps(_call(control.list_faults, control_url), indent=2))
