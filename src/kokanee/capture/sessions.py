"""Sessions: named, labelled ranges of arrival time over the capture ("baseline", "fault:
payment failure"). Started and stopped live, or created after the fact; exported as one tar
file (manifest.json + the segments) and imported elsewhere."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import pyarrow as pa

from kokanee.capture import index, segment
from kokanee.capture.objectstore import Locations, ObjectStore
from kokanee.capture.segment import SegmentMeta
from kokanee.store.client import Store

TABLE = "kokanee_capture_sessions"
FORMAT = "kokanee-capture-session/1"


class SessionError(ValueError):
    """A request about sessions that cannot be met (unknown id, already stopped, bad file)."""


class SessionNotFound(SessionError):
    pass


@dataclass
class Session:
    id: str
    name: str
    start: int  # unix ns, arrival time
    end: int | None  # None while recording
    labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def range(self) -> tuple[int, int]:
        return self.start, self.end if self.end is not None else time.time_ns()


def _save(store: Store, session: Session, deleted: bool = False) -> None:
    table = pa.table(
        {
            "Id": [session.id],
            "Name": [session.name],
            "Labels": pa.array([list(session.labels.items())], pa.map_(pa.string(), pa.string())),
            "Start": pa.array([session.start], pa.timestamp("ns")),
            "End": pa.array([session.end], pa.timestamp("ns")),
            "Deleted": pa.array([1 if deleted else 0], pa.uint8()),
            "Version": pa.array([index.version()], pa.uint64()),
        }
    )
    store.insert_arrow(TABLE, table)


def create(store: Store, name: str, start: int, end: int | None, labels: dict[str, str] | None = None) -> Session:
    if not name.strip():
        raise SessionError("a session needs a name")
    if end is not None and end <= start:
        raise SessionError("a session's end must come after its start")
    session = Session(uuid.uuid4().hex[:12], name.strip(), start, end, dict(labels or {}))
    _save(store, session)
    return session


def start(store: Store, name: str, labels: dict[str, str] | None = None) -> Session:
    return create(store, name, time.time_ns(), None, labels)


def stop(store: Store, session_id: str) -> Session:
    session = get(store, session_id)
    if session.end is not None:
        raise SessionError(f"session {session_id} was already stopped")
    session.end = max(time.time_ns(), session.start + 1)
    _save(store, session)
    return session


def delete(store: Store, session_id: str) -> None:
    """Forgets the session; its segments stay (retention decides about them)."""
    _save(store, get(store, session_id), deleted=True)


def list_sessions(store: Store) -> list[Session]:
    sql = f"""SELECT Id, Name, Labels, toUnixTimestamp64Nano(Start) AS Start,
                     if(isNull(End), NULL, toUnixTimestamp64Nano(assumeNotNull(End))) AS End
              FROM {TABLE} FINAL WHERE Deleted = 0 ORDER BY Start DESC"""
    return [_session(row) for row in store.query(sql).dicts()]


def get(store: Store, session_id: str) -> Session:
    for session in list_sessions(store):
        if session.id == session_id:
            return session
    raise SessionNotFound(f"no session {session_id!r}")


def _session(row: dict[str, Any]) -> Session:
    end = row["End"]
    return Session(row["Id"], row["Name"], int(row["Start"]), None if end is None else int(end), dict(row["Labels"]))


def segments(store: Store, session: Session, signals: list[str] | None = None) -> list[SegmentMeta]:
    """The segments of the session's range: those captured here, or for an imported session
    only its own (imported into this store under imported/ID/)."""
    first, last = session.range
    own = f"imported/{session.id}/"
    imported = "imported_from" in session.labels
    return [
        meta
        for meta in index.find(store, first, last, signals)
        if (meta.key.startswith(own) if imported else not meta.key.startswith("imported/"))
    ]


# -- export and import ------------------------------------------------------------------------


def export(store: Store, locations: Locations, session: Session, out: IO[bytes]) -> int:
    """Writes the session as a tar (manifest.json, then segments/KEY); returns the segment count."""
    metas = segments(store, session)
    manifest = {"format": FORMAT, "session": session.to_json(), "segments": [m.to_json() for m in metas]}
    with tarfile.open(fileobj=out, mode="w|") as tar:
        _add(tar, "manifest.json", json.dumps(manifest, indent=1).encode())
        for meta in metas:
            _add(tar, f"segments/{meta.key}", locations.get(meta.location).get(meta.key))
    return len(metas)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def read_export(source: IO[bytes]) -> tuple[Session, list[tuple[SegmentMeta, bytes]]]:
    """The session and its segments from an exported file; SessionError naming what is wrong."""
    try:
        with tarfile.open(fileobj=source, mode="r:*") as tar:
            files = {m.name: m for m in tar.getmembers() if m.isfile()}
            if "manifest.json" not in files:
                raise SessionError("not a kokanee session export: manifest.json is missing")
            manifest = json.loads(_read(tar, files["manifest.json"]))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise SessionError(f"not a kokanee session export (format is not {FORMAT})")
            data = manifest["session"]
            session = Session(
                str(data["id"]), str(data["name"]), int(data["start"]),
                None if data["end"] is None else int(data["end"]), {str(k): str(v) for k, v in data["labels"].items()},
            )  # fmt: skip
            items: list[tuple[SegmentMeta, bytes]] = []
            for raw in manifest["segments"]:
                meta = SegmentMeta.from_json(raw)
                member = files.get(f"segments/{meta.key}")
                if member is None:
                    raise SessionError(f"segment {meta.key} is listed in the manifest but missing")
                body = _read(tar, member)
                segment.decode(body)  # refuse a damaged file before anything is stored
                items.append((meta, body))
            return session, items
    except (tarfile.TarError, KeyError, TypeError, ValueError) as e:
        if isinstance(e, SessionError):
            raise
        raise SessionError(f"not a readable kokanee session export: {e}") from e


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    if f is None:
        raise SessionError(f"{member.name} cannot be read")
    return f.read()


def import_export(store: Store, objects: ObjectStore, source: IO[bytes]) -> tuple[Session, int]:
    """Stores an exported session's segments under imported/ID/ in `objects`, indexes them and
    creates the session (with a new id); returns it and the segment count."""
    original, items = read_export(source)
    session = Session(uuid.uuid4().hex[:12], original.name, original.start, original.end, original.labels)
    session.labels.setdefault("imported_from", original.id)
    metas = []
    for meta, body in items:
        meta.key = f"imported/{session.id}/{meta.key}"
        meta.location, meta.tier = objects.url, "hot"
        objects.put(meta.key, body)
        metas.append(meta)
    index.insert(store, metas)
    _save(store, session)
    return session, len(metas)
