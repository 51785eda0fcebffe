"""`kokanee import PATH`: recorded telemetry into a running kokanee, as OTLP.

Everything goes through the server's OTLP receiver, so imported data is validated,
stored and derived (service graph, RED) exactly like live data. Fault labels that a
recording carries go to the API afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from kokanee.importers import rebase
from kokanee.importers.detect import FORMATS, make_source
from kokanee.importers.sender import HttpPoster, OtlpSender, SendError, SendStats
from kokanee.importers.types import FaultLabel, ImportFailed, Problems, Source
from kokanee.store.timeparse import DURATION_HELP, TIME_HELP, positive_seconds

DEFAULT_BATCH_SIZE = 2000


@dataclass
class ImportReport:
    """What an import did: totals acknowledged by the server and what could not be read."""

    format: str
    files: int
    stats: SendStats
    labels: int = 0
    offset_ns: int = 0
    seconds: float = 0.0
    problems: Problems = field(default_factory=Problems)


def default_api_url(endpoint: str) -> str:
    """The API next to an OTLP endpoint: same scheme and host, port 8080."""
    parts = urlsplit(endpoint)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme or "http", f"{host}:8080", "", "", ""))


def run_import(
    path: Path,
    endpoint: str = "http://127.0.0.1:4318",
    api_url: str | None = None,
    format: str | None = None,
    rebase_time: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    token: str | None = None,
    console: Console | None = None,
    retry_for_s: float = 300.0,
    api_token: str | None = None,
) -> ImportReport:
    """Reads `path`, posts its labels, sends it; raises ImportFailed or SendError. `token` goes with
    the OTLP requests, and with the labels too unless `api_token` is given."""
    if batch_size < 1:
        raise ImportFailed("--batch-size must be at least 1")
    console = console or Console(stderr=True)
    began = time.monotonic()
    source = make_source(path, format)
    files = source.files()
    if not files:
        raise ImportFailed(f"no {source.format} files found in {path}")
    labels = source.labels()
    offset = 0
    if rebase_time is not None:
        target = rebase.target_ns(rebase_time)
        offset = target - _latest_ns(source, files, batch_size, labels, console)
    poster = HttpPoster(token=token, max_elapsed=retry_for_s, warn=lambda m: console.print(f"[yellow]{m}[/]"))
    sender = OtlpSender(endpoint, poster, flag="--endpoint")
    try:
        # Labels first: a wrong --api-url shows before the data is sent (a second run would send it twice).
        if labels and api_url == "":
            labels = []  # asked for: data only (an OTLP endpoint that is not kokanee)
        if labels:
            url = f"{(api_url or default_api_url(endpoint)).rstrip('/')}/api/v1/fault-labels"
            body = {"labels": [label.to_json(offset) for label in labels]}
            poster.post_json(url, body, "--api-url", token=api_token)
        _send_all(source, files, batch_size, offset, sender, console)
        stats = sender.flush()
    finally:
        sender.close()
        poster.close()
    return ImportReport(
        source.format, len(files), stats, len(labels), offset, time.monotonic() - began, source.problems
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[files]} files, {task.fields[items]:,} items"),
        TimeRemainingColumn(),
        console=console,
    )


def _send_all(
    source: Source, files: list[Path], batch_size: int, offset: int, sender: OtlpSender, console: Console
) -> None:
    items = 0
    with _progress(console) as progress:
        # Progress by bytes: files differ a hundredfold in size (a metric file per pod
        # beside a log file per minute), so a file count would stall and jump.
        task = progress.add_task("importing", total=sum(f.stat().st_size for f in files), files=0, items=0)
        for done, file in enumerate(files, start=1):
            progress.update(task, description=file.name)
            for batch in source.read(file, batch_size):
                rebase.shift(batch, offset)
                sender.submit(batch)
                items += batch.items
                progress.update(task, items=items)
            progress.update(task, advance=file.stat().st_size, files=done)
        progress.update(task, description="waiting for the server")
        sender.flush()


def _latest_ns(source: Source, files: list[Path], batch_size: int, labels: list[FaultLabel], console: Console) -> int:
    # A first pass over the data: the end of a recording is only known once it is read.
    latest = max((label.end or label.start for label in labels), default=0)
    with _progress(console) as progress:
        task = progress.add_task("finding the end", total=len(files), files=0, items=0)
        for file in files:
            for batch in source.read(file, batch_size):
                latest = max(latest, rebase.latest_ns(batch))
            progress.advance(task)
    if latest == 0:
        raise ImportFailed("--rebase-time: the recording has no timestamps")
    return latest


def print_report(report: ImportReport, console: Console) -> None:
    table = Table(title=f"imported {report.files} {report.format} files in {report.seconds:.1f} s")
    table.add_column("signal")
    table.add_column("sent", justify="right")
    table.add_column("rejected", justify="right")
    for signal, label in (("traces", "spans"), ("logs", "log records"), ("metrics", "metric points")):
        table.add_row(label, f"{report.stats.sent[signal]:,}", f"{report.stats.rejected[signal]:,}")  # type: ignore[index]
    table.add_row("fault labels", f"{report.labels:,}", "0")
    console.print(table)
    if report.offset_ns:
        console.print(f"timestamps moved by {report.offset_ns / 1e9:+,.3f} s")
    if report.stats.retries:
        console.print(f"{report.stats.retries} requests retried (server busy or unreachable)")
    for message in report.stats.messages:
        console.print(f"[yellow]server:[/] {message}")
    if report.problems.count:
        console.print(f"[yellow]{report.problems.count} unreadable records skipped:[/]")
        for message in report.problems.messages:
            console.print(f"  {message}")


def import_command(
    path: Annotated[Path, typer.Argument(help="A recording: file or folder (Nezha, Jaeger, Zipkin, OTLP/JSON).")],
    endpoint: Annotated[
        str, typer.Option(help="OTLP/HTTP endpoint; data goes to {endpoint}/v1/traces|metrics|logs.")
    ] = "http://127.0.0.1:4318",
    api_url: Annotated[
        str | None,
        typer.Option(
            help="kokanee API for fault labels, sent before the data; '' to send no labels "
            "[default: the endpoint's host, port 8080]."
        ),
    ] = None,
    format: Annotated[
        str | None, typer.Option(help=f"Recording format: {'|'.join(FORMATS)} [default: detected].")
    ] = None,
    rebase_time: Annotated[
        str | None,
        typer.Option(
            help="Shift every timestamp by one offset so the recording ends at this time: "
            f"{TIME_HELP} [default: keep the recorded times]."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Spans, log records or metric points per request.")] = (
        DEFAULT_BATCH_SIZE
    ),
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token for the OTLP endpoint (and the API).", envvar="KOKANEE_TOKEN"),
    ] = None,
    api_token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token for the API's fault labels, when it differs from --token (an editor's or above).",
            envvar="KOKANEE_API_TOKEN",
        ),
    ] = None,
    retry_for: Annotated[
        float,
        typer.Option(
            parser=positive_seconds, help=f"How long to retry a busy or unreachable server ({DURATION_HELP})."
        ),
    ] = 300.0,
) -> None:
    """Import recorded telemetry into a running kokanee over OTLP."""
    console = Console(stderr=True)
    try:
        report = run_import(
            path, endpoint, api_url, format, rebase_time, batch_size, token, console, retry_for, api_token
        )
    except (ImportFailed, SendError) as error:
        console.print(f"[red]import failed:[/] {error}")
        raise typer.Exit(1) from None
    print_report(report, console)
