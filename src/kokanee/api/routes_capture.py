"""Raw capture: segments, sessions (start/stop/export/import), replay to an endpoint, retention."""

from __future__ import annotations

import tempfile
import threading
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from kokanee.api.auth.access import requires
from kokanee.api.auth.roles import Role
from kokanee.api.errors import ApiError, BadRequest, NotFound
from kokanee.api.params import window
from kokanee.capture import index, sessions
from kokanee.capture.objectstore import Locations, ObjectStoreError
from kokanee.capture.replay import ReplayError, ReplayOptions, ReplayProgress, check_options, replay
from kokanee.capture.retention import Retention
from kokanee.capture.segment import SegmentMeta
from kokanee.capture.writer import Capture
from kokanee.store.client import Store
from kokanee.store.timeparse import parse_time

router = APIRouter(prefix="/api/v1/capture", tags=["capture"])
_MAX_IMPORT_BYTES = 4 << 30


class Unavailable(ApiError):
    status = 409


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _locations(request: Request) -> Locations:
    return getattr(request.app.state, "capture_locations", None) or Locations()


def _capture(request: Request) -> Capture | None:
    return getattr(request.app.state, "capture", None)


def _session(store: Store, session_id: str) -> sessions.Session:
    try:
        return sessions.get(store, session_id)
    except sessions.SessionNotFound as e:
        raise NotFound(str(e)) from e


def _time(value: str | int | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(str(value), None) if not isinstance(value, int) else value
    except (ValueError, TypeError) as e:
        raise BadRequest(f"{what}: {e}") from e


def _signals(text: str | None) -> list[str] | None:
    if not text:
        return None
    signals = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in signals if s not in ("traces", "logs", "metrics")]
    if bad:
        raise BadRequest(f"unknown signal(s) {', '.join(bad)}: use traces, logs, metrics")
    return signals


# -- status and segments ------------------------------------------------------------------------


@router.get("/status")
def status(request: Request) -> dict[str, Any]:
    """Whether capture runs, where to, what waits in the outbox, and totals per signal and tier."""
    capture = _capture(request)
    return {
        "enabled": capture is not None,
        **(capture.status() if capture is not None else {}),
        "totals": index.totals(_store(request)),
    }


@router.get("/segments")
def segments(
    request: Request,
    start: str | None = None,
    end: str | None = None,
    signals: str | None = None,
    step: int | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """Segments whose arrival range meets [start, end) (default: the last hour), newest last, with
    segments/items/bytes per signal and time step for a chart."""
    w = window(start, end)
    if limit < 1 or limit > 100_000:
        raise BadRequest("limit must be between 1 and 100000")
    step_s = step or max(60, (w.end_ns - w.start_ns) // 1_000_000_000 // 60)
    if step_s < 1:
        raise BadRequest("step must be at least 1 second")
    store = _store(request)
    found = index.find(store, w.start_ns, w.end_ns, _signals(signals))
    return {
        "start": w.start_ns,
        "end": w.end_ns,
        "count": len(found),
        "bytes": sum(m.bytes for m in found),
        "items": sum(m.items for m in found),
        "segments": [m.to_json() for m in found[-limit:]],
        "step_s": step_s,
        "series": index.histogram(store, w.start_ns, w.end_ns, step_s),
    }


@router.get("/segments/data")
def segment_data(request: Request, key: str) -> Response:
    """One segment's bytes (zstd), for replay from another machine."""
    found = index.by_keys(_store(request), [key])
    if not found:
        raise NotFound(f"no segment {key!r}")
    try:
        data = _locations(request).get(found[0].location).get(key)
    except ObjectStoreError as e:
        raise ApiError(f"segment store unavailable: {e}") from e
    return Response(data, media_type="application/zstd")


# -- sessions -------------------------------------------------------------------------------------


class SessionBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    labels: dict[str, str] = Field(default_factory=dict, max_length=50)
    start: str | int | None = Field(None, description="RFC 3339 or unix ns; set it to create a session after the fact")
    end: str | int | None = Field(None, description="with start: the end of an after-the-fact session")


def _session_json(store: Store, session: sessions.Session) -> dict[str, Any]:
    metas = sessions.segments(store, session)
    return {
        **session.to_json(),
        "recording": session.end is None,
        "segments": len(metas),
        "bytes": sum(m.bytes for m in metas),
        "items": {s: sum(m.items for m in metas if m.signal == s) for s in ("traces", "logs", "metrics")},
    }


@router.get("/sessions")
def list_sessions(request: Request) -> dict[str, Any]:
    store = _store(request)
    return {"sessions": [_session_json(store, s) for s in sessions.list_sessions(store)]}


@router.post("/sessions", status_code=201, dependencies=[requires(Role.editor)])
def create_session(request: Request, body: SessionBody) -> dict[str, Any]:
    """Starts recording a session now, or, with `start` (and `end`), creates one after the fact."""
    store = _store(request)
    start, end = _time(body.start, "start"), _time(body.end, "end")
    if start is None and end is not None:
        raise BadRequest("end needs a start")
    try:
        if start is None:
            session = sessions.start(store, body.name, body.labels)
        else:
            session = sessions.create(store, body.name, start, end, body.labels)
    except sessions.SessionError as e:
        raise BadRequest(str(e)) from e
    return _session_json(store, session)


@router.get("/sessions/{session_id}")
def get_session(request: Request, session_id: str) -> dict[str, Any]:
    store = _store(request)
    session = _session(store, session_id)
    return {**_session_json(store, session), "segment_list": [m.to_json() for m in sessions.segments(store, session)]}


@router.post("/sessions/{session_id}/stop", dependencies=[requires(Role.editor)])
def stop_session(request: Request, session_id: str) -> dict[str, Any]:
    store = _store(request)
    _session(store, session_id)
    try:
        session = sessions.stop(store, session_id)
    except sessions.SessionError as e:
        raise Unavailable(str(e)) from e
    return _session_json(store, session)


@router.delete("/sessions/{session_id}", dependencies=[requires(Role.editor)])
def delete_session(request: Request, session_id: str) -> dict[str, Any]:
    store = _store(request)
    _session(store, session_id)
    sessions.delete(store, session_id)
    return {"deleted": session_id}


@router.get("/sessions/{session_id}/export")
def export_session(request: Request, session_id: str) -> StreamingResponse:
    """The session as one tar file: manifest.json and its segments."""
    store = _store(request)
    session = _session(store, session_id)
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - closed by the stream
    try:
        sessions.export(store, _locations(request), session, spool)
    except ObjectStoreError as e:
        spool.close()
        raise ApiError(f"segment store unavailable: {e}") from e
    spool.seek(0)

    def chunks() -> Any:
        with spool:
            while chunk := spool.read(1 << 20):
                yield chunk

    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in session.name)[:60] or "session"
    headers = {"Content-Disposition": f'attachment; filename="kokanee-session-{name}-{session.id}.tar"'}
    return StreamingResponse(chunks(), media_type="application/x-tar", headers=headers)


@router.post("/sessions/import", status_code=201, dependencies=[requires(Role.editor)])
async def import_session(request: Request) -> dict[str, Any]:
    """Imports an exported session file (the request body) into this kokanee's capture store."""
    capture = _capture(request)
    if capture is None:
        raise Unavailable("capture is off here (--capture off): nowhere to keep imported segments")
    store = _store(request)
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - closed below
    with spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > _MAX_IMPORT_BYTES:
                raise BadRequest("session file larger than 4 GiB")
            spool.write(chunk)
        spool.seek(0)
        try:
            session, count = sessions.import_export(store, capture.objects, spool)  # type: ignore[arg-type]
        except sessions.SessionError as e:
            raise BadRequest(str(e)) from e
        except ObjectStoreError as e:
            raise ApiError(f"segment store unavailable: {e}") from e
    return {**_session_json(store, session), "imported_segments": count}


# -- replay ---------------------------------------------------------------------------------------


class ReplayBody(BaseModel):
    to: str = Field(description="Base URL of an OTLP/HTTP receiver, e.g. http://collector:4318")
    session: str | None = None
    start: str | int | None = None
    end: str | int | None = None
    speed: float = Field(1.0, ge=0, description="10 = ten times faster; 0 = no pauses")
    rebase_time: str | None = Field(None, description="now, RFC 3339 or unix ns: where the latest event lands")
    signals: list[str] = Field(default_factory=lambda: ["traces", "logs", "metrics"])
    token: str | None = Field(None, description="The receiver's ingest token")


class _Replays:
    def __init__(self) -> None:
        self.jobs: dict[str, tuple[ReplayProgress, threading.Event, dict[str, Any]]] = {}
        self.lock = threading.Lock()


def _replays(request: Request) -> _Replays:
    with _REPLAYS_LOCK:
        if not hasattr(request.app.state, "capture_replays"):
            request.app.state.capture_replays = _Replays()
    replays: _Replays = request.app.state.capture_replays
    return replays


_REPLAYS_LOCK = threading.Lock()


def replay_selection(store: Store, body: ReplayBody) -> tuple[list[SegmentMeta], int | None, int | None]:
    if body.session:
        session = _session(store, body.session)
        first, last = session.range
        return sessions.segments(store, session, body.signals), first, last
    start, end = _time(body.start, "start"), _time(body.end, "end")
    if start is None or end is None:
        raise BadRequest("give a session, or both start and end")
    if start >= end:
        raise BadRequest("start must be before end")
    return index.find(store, start, end, body.signals), start, end


@router.post("/replays", status_code=202, dependencies=[requires(Role.editor)])
def start_replay(request: Request, body: ReplayBody) -> dict[str, Any]:
    """Starts re-sending a session or time range to `to` in the background; poll /replays/{id}."""
    store = _store(request)
    metas, start, end = replay_selection(store, body)
    options = ReplayOptions(
        body.to, body.speed, body.rebase_time, tuple(body.signals), start, end, body.token
    )  # fmt: skip
    try:
        check_options(options)
    except ReplayError as e:
        raise BadRequest(str(e)) from e
    if not metas:
        raise BadRequest("nothing captured in that session or range")
    locations = _locations(request)
    progress, stop = ReplayProgress(), threading.Event()
    replay_id = uuid.uuid4().hex[:12]
    about = {"id": replay_id, "to": body.to, "session": body.session, "speed": body.speed}
    replays = _replays(request)
    with replays.lock:
        replays.jobs[replay_id] = (progress, stop, about)

    def run() -> None:
        replay(metas, lambda m: locations.get(m.location).get(m.key), options, stop, progress=progress)

    threading.Thread(target=run, name=f"kokanee-replay-{replay_id}", daemon=True).start()
    return {**about, **progress.to_json()}


@router.get("/replays")
def list_replays(request: Request) -> dict[str, Any]:
    replays = _replays(request)
    with replays.lock:
        return {"replays": [{**about, **p.to_json()} for p, _, about in replays.jobs.values()]}


@router.get("/replays/{replay_id}")
def get_replay(request: Request, replay_id: str) -> dict[str, Any]:
    replays = _replays(request)
    with replays.lock:
        job = replays.jobs.get(replay_id)
    if job is None:
        raise NotFound(f"no replay {replay_id!r}")
    return {**job[2], **job[0].to_json()}


@router.post("/replays/{replay_id}/stop", dependencies=[requires(Role.editor)])
def stop_replay(request: Request, replay_id: str) -> dict[str, Any]:
    replays = _replays(request)
    with replays.lock:
        job = replays.jobs.get(replay_id)
    if job is None:
        raise NotFound(f"no replay {replay_id!r}")
    job[1].set()
    return {**job[2], **job[0].to_json()}


# -- retention ------------------------------------------------------------------------------------


def _retention(request: Request) -> Retention:
    retention: Retention | None = getattr(request.app.state, "capture_retention", None)
    if retention is None:
        raise Unavailable("retention is not set up on this server")
    return retention


@router.get("/retention")
def retention_state(request: Request) -> dict[str, Any]:
    """The policies in force and the last run."""
    retention = _retention(request)
    return {**retention.policies.to_json(), "last_run": retention.last()}


class RetentionRunBody(BaseModel):
    dry_run: bool = True


@router.post("/retention/run", dependencies=[requires(Role.admin)])
def run_retention(request: Request, body: RetentionRunBody) -> dict[str, Any]:
    """Applies the policies now; with dry_run (the default) only lists what would happen."""
    return _retention(request).run(dry_run=body.dry_run).to_json()
