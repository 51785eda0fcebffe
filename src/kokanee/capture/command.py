"""`kokanee replay`, `kokanee session ...` and `kokanee retention`: raw capture from the shell.

They talk to a running kokanee's API (the index lives in its store); replay fetches the
segments through the API, or reads an exported session file directly, and sends from here.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kokanee.capture import sessions
from kokanee.capture.replay import ReplayError, ReplayOptions, ReplayProgress, check_options, replay
from kokanee.capture.segment import SegmentMeta
from kokanee.importers.sender import error_message
from kokanee.store.timeparse import TIME_HELP, check_time

ApiUrl = Annotated[str, typer.Option("--api", envvar="KOKANEE_API_URL", help="The running kokanee's API.")]
ApiToken = Annotated[str | None, typer.Option("--token", envvar="KOKANEE_API_TOKEN", help="API bearer token.")]
DEFAULT_API = "http://127.0.0.1:8080"

session_app = typer.Typer(help="Named, labelled ranges of captured data.", no_args_is_help=True)


class _Api:
    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, f"/api/v1/capture{path}", **kwargs)
        except httpx.HTTPError as e:
            _fail(f"cannot reach {self.client.base_url} ({e}); set --api (or KOKANEE_API_URL)")
        if not response.is_success:
            _fail(error_message(response))
        return response


def _fail(message: str) -> Any:
    typer.echo(f"kokanee: {message}", err=True)
    raise typer.Exit(1)


def _labels(values: list[str] | None) -> dict[str, str]:
    labels = {}
    for value in values or []:
        key, sep, text = value.partition("=")
        if not sep or not key:
            _fail(f"--label {value!r}: use KEY=VALUE")
        labels[key] = text
    return labels


def _print(body: Any) -> None:
    typer.echo(json.dumps(body, indent=1))


@session_app.command("start")
def session_start(
    name: str,
    label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable")] = None,
    api: ApiUrl = DEFAULT_API,
    token: ApiToken = None,
) -> None:
    """Start recording a session now."""
    _print(_Api(api, token).call("POST", "/sessions", json={"name": name, "labels": _labels(label)}).json())


@session_app.command("create")
def session_create(
    name: str,
    start: Annotated[str, typer.Option(parser=check_time, help=f"From: {TIME_HELP}")],
    end: Annotated[str, typer.Option(parser=check_time, help=f"To: {TIME_HELP}")] = "now",
    label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable")] = None,
    api: ApiUrl = DEFAULT_API,
    token: ApiToken = None,
) -> None:
    """Create a session after the fact, from a range of arrival time."""
    body = {"name": name, "labels": _labels(label), "start": start, "end": end}
    _print(_Api(api, token).call("POST", "/sessions", json=body).json())


@session_app.command("stop")
def session_stop(session_id: str, api: ApiUrl = DEFAULT_API, token: ApiToken = None) -> None:
    """Stop recording a session."""
    _print(_Api(api, token).call("POST", f"/sessions/{session_id}/stop").json())


@session_app.command("list")
def session_list(api: ApiUrl = DEFAULT_API, token: ApiToken = None) -> None:
    """List sessions with their segment counts and sizes."""
    for session in _Api(api, token).call("GET", "/sessions").json()["sessions"]:
        typer.echo(json.dumps(session))


@session_app.command("export")
def session_export(
    session_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .tar file to write")],
    api: ApiUrl = DEFAULT_API,
    token: ApiToken = None,
) -> None:
    """Write a session (manifest + segments) to one portable file."""
    client = _Api(api, token)
    with client.client.stream("GET", f"/api/v1/capture/sessions/{session_id}/export") as response:
        if not response.is_success:
            response.read()
            _fail(error_message(response))
        with output.open("wb") as f:
            for chunk in response.iter_bytes():
                f.write(chunk)
    typer.echo(f"wrote {output} ({output.stat().st_size} bytes)")


@session_app.command("import")
def session_import(path: Path, api: ApiUrl = DEFAULT_API, token: ApiToken = None) -> None:
    """Import an exported session file into a running kokanee."""
    with path.open("rb") as f:
        _print(_Api(api, token).call("POST", "/sessions/import", content=f.read()).json())


def retention_command(
    apply: Annotated[bool, typer.Option("--apply", help="Act; without it, a dry run that changes nothing.")] = False,
    api: ApiUrl = DEFAULT_API,
    token: ApiToken = None,
) -> None:
    """Run the capture retention policies now (a dry run unless --apply)."""
    result = _Api(api, token).call("POST", "/retention/run", json={"dry_run": not apply}).json()
    for action in result["actions"]:
        typer.echo(f"{'would ' if result['dry_run'] else ''}{action['action']} {action['key']}: {action['reason']}")
    typer.echo(
        f"{'dry run: ' if result['dry_run'] else ''}{result['deleted']} deleted, {result['archived']} archived, "
        f"{result['freed_bytes']} bytes freed, {len(result['errors'])} errors"
    )
    for statement in result["ttl"]:
        typer.echo(f"table TTL: {statement}")


def replay_command(
    session: Annotated[str | None, typer.Argument(help="A session id, or an exported session .tar file")] = None,
    to: Annotated[str, typer.Option(help="OTLP/HTTP endpoint to send to (base URL)")] = "http://127.0.0.1:4318",
    start: Annotated[
        str | None, typer.Option(parser=check_time, help=f"Instead of a session: arrival from ({TIME_HELP})")
    ] = None,
    end: Annotated[str | None, typer.Option(parser=check_time, help="...to this arrival time")] = None,
    speed: Annotated[float, typer.Option(help="10 = ten times faster; 0 = no pauses")] = 1.0,
    rebase_time: Annotated[
        str | None, typer.Option(parser=check_time, help=f"{TIME_HELP}: the latest event time moves here")
    ] = None,
    signals: Annotated[str, typer.Option(help="Comma-separated signals to send")] = "traces,logs,metrics",
    ingest_token: Annotated[str | None, typer.Option(envvar="KOKANEE_INGEST_TOKEN", help="Receiver token")] = None,
    api: ApiUrl = DEFAULT_API,
    token: ApiToken = None,
) -> None:
    """Re-send captured OTLP to any endpoint, keeping its timing (scaled) and shifting all times by one offset."""
    chosen = tuple(s.strip() for s in signals.split(",") if s.strip())
    if session is not None and Path(session).is_file():
        with Path(session).open("rb") as f:
            recorded, items = sessions.read_export(f)
        blobs = {meta.key: body for meta, body in items}
        metas = [meta for meta, _ in items]
        first, last = recorded.range

        def load(meta: SegmentMeta) -> bytes:
            return blobs[meta.key]
    else:
        client = _Api(api, token)
        if session is not None:
            body = client.call("GET", f"/sessions/{session}").json()
            metas = [SegmentMeta.from_json(m) for m in body["segment_list"]]
            first, last = int(body["start"]), int(body["end"] or time.time_ns())
        elif start and end:
            body = client.call("GET", "/segments", params={"start": start, "end": end, "limit": 100_000}).json()
            metas = [SegmentMeta.from_json(m) for m in body["segments"]]
            first, last = int(body["start"]), int(body["end"])
        else:
            _fail("give a SESSION (id or exported file), or --start and --end")

        def load(meta: SegmentMeta) -> bytes:
            return client.call("GET", "/segments/data", params={"key": meta.key}).content

    options = ReplayOptions(to, speed, rebase_time, chosen, first, last, ingest_token)
    try:
        check_options(options)
    except ReplayError as e:
        _fail(str(e))
    if not metas:
        _fail("nothing captured in that session or range")
    _run_with_progress(metas, load, options)


def _run_with_progress(metas: list[SegmentMeta], load: Any, options: ReplayOptions) -> None:
    console = Console(stderr=True)
    stop, finished = threading.Event(), threading.Event()
    progress = ReplayProgress()

    def work() -> None:
        try:
            replay(metas, load, options, stop, None, progress)
        finally:
            finished.set()

    # Waits use the `finished` event, not Thread.join: a join cut short by Ctrl-C can report the
    # thread finished while it still runs (CPython), and the totals would be printed too early.
    worker = threading.Thread(target=work, daemon=True)
    columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TextColumn("requests"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("replay", total=sum(m.requests for m in metas if m.signal in options.signals))
        worker.start()
        try:
            while not finished.wait(0.2):
                bar.update(task, completed=progress.done_requests)
        except KeyboardInterrupt:
            stop.set()  # Ctrl-C: stop sending, wait for the requests in flight
            console.print("stopping: waiting for requests in flight")
            while not finished.wait(0.2):
                pass
        bar.update(task, completed=progress.done_requests)
    items = ", ".join(f"{n} {s}" for s, n in progress.sent_items.items() if n)
    console.print(
        f"{progress.state}: {progress.sent_requests} requests ({items or 'nothing'}) to {options.to}, "
        f"times shifted by {progress.offset_ns / 1e9:+.3f} s, {progress.retries} retries"
    )
    if progress.state == "failed":
        _fail(progress.error)
