"""Log templates: Drain (drain3) mines each service's log bodies into templates, counted per minute
into `kokanee_log_templates`; a template a warmed-up service has never logged is an anomaly, and
surges are judged like any count series (analysis.anomaly).

Each service has its own miner, so one service's chatter cannot absorb another's templates. A
miner's state is kept in `kokanee_drain_state` whenever it learns a template, so template ids
survive restarts. Identical bodies are grouped in SQL first: Drain sees each distinct body of a
minute once and the counts stay exact.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from drain3 import TemplateMiner
from drain3.memory_buffer_persistence import MemoryBufferPersistence
from drain3.template_miner_config import TemplateMinerConfig

from kokanee.analysis.anomaly import LOG_COUNT, Anomaly, SeriesKey
from kokanee.analysis.anomaly_params import MINUTE_S, DetectionParams
from kokanee.analysis.log_statements import MINED_HEAD_CHARS, code_location, masking, template_of, template_regex
from kokanee.store.client import Store
from kokanee.store.reads.logs import LOCATION_SQL

log = logging.getLogger(__name__)
# drain3 logs every snapshot at INFO; kokanee saves one per minute that learnt a template.
logging.getLogger("drain3").setLevel(logging.WARNING)

_ERROR_LEVELS = {"ERROR", "FATAL", "CRITICAL", "EMERGENCY", "ALERT"}


@dataclass
class TemplateCount:
    service: str
    template_id: str
    template: str
    count: int
    first_seen: int  # Unix s
    new: bool  # learnt in this minute
    error: bool  # some line of it this minute was logged at error level or worse


def _config(params: DetectionParams) -> TemplateMinerConfig:
    config = TemplateMinerConfig()
    config.drain_sim_th = params.drain_similarity
    config.drain_depth = params.drain_depth
    config.masking_instructions = masking()
    config.snapshot_interval_minutes = 10**6  # saved explicitly after each minute that learnt something
    return config


class LogPatterns:
    """Per-service Drain miners over `otel_logs`, with their state in the store."""

    def __init__(self, store: Store, params: DetectionParams) -> None:
        self.store = store
        self.params = params
        self._miners: dict[str, tuple[TemplateMiner, MemoryBufferPersistence]] = {}
        self._first_seen: dict[tuple[str, str], int] = {}
        self._since: dict[str, int] = {}  # service -> first minute it logged

    def _miner(self, service: str, t: int) -> TemplateMiner:
        if service not in self._miners:
            persistence = MemoryBufferPersistence()
            rows = self.store.query(
                "SELECT argMax(State, UpdatedAt) FROM kokanee_drain_state WHERE ServiceName = {s:String}"
                " GROUP BY ServiceName",
                parameters={"s": service},
            ).rows
            if rows and rows[0][0]:
                persistence.state = str(rows[0][0]).encode()
            miner = TemplateMiner(persistence, _config(self.params))
            self._miners[service] = (miner, persistence)
            seen = self.store.query(
                "SELECT TemplateId, toUnixTimestamp(min(FirstSeen)) FROM kokanee_log_templates"
                " WHERE ServiceName = {s:String} GROUP BY TemplateId",
                parameters={"s": service},
            ).rows
            for template_id, first in seen:
                self._first_seen[(service, str(template_id))] = int(first)
            self._since[service] = min((int(first) for _, first in seen), default=t)
        return self._miners[service][0]

    def mine_minute(self, t: int) -> list[TemplateCount]:
        """Mines the logs of minute `t` (Unix s) and stores its template counts."""
        rows = self.store.query(
            f"""SELECT ServiceName, Body, {LOCATION_SQL} AS location, count() AS n,
                max(upper(SeverityText) IN {{levels:Array(String)}}) AS err
            FROM otel_logs WHERE TimestampTime >= toDateTime({{lo:Int64}}) AND TimestampTime < toDateTime({{hi:Int64}})
                AND Body != ''
            GROUP BY ServiceName, Body, location ORDER BY n DESC LIMIT {{cap:UInt32}}""",
            parameters={
                "lo": t,
                "hi": t + MINUTE_S,
                "cap": self.params.max_log_bodies_per_minute,
                "levels": sorted(_ERROR_LEVELS),
            },
        ).rows
        # (service, cluster, code location) -> [count, new, error]: where lines say which statement
        # logged them, each statement is counted apart (see analysis.log_statements).
        counts: dict[tuple[str, int, str], list[Any]] = {}
        learnt: set[str] = set()
        for service, body, location, n, err in rows:
            service, body = str(service), str(body)
            miner = self._miner(service, t)
            result = miner.add_log_message(body)
            where = code_location(body, str(location))
            entry = counts.setdefault((service, int(result["cluster_id"]), where), [0, False, False])
            entry[0] += int(n)
            entry[2] = entry[2] or bool(err)
            if result["change_type"] == "cluster_created":
                entry[1] = True
            if result["change_type"] != "none":
                learnt.add(service)
        out = []
        for (service, cluster_id, where), (n, new, err) in counts.items():
            template_id = f"T{cluster_id}@{where}" if where else f"T{cluster_id}"
            miner = self._miners[service][0]
            first = self._first_seen.setdefault((service, template_id), t)
            text = template_of(miner, cluster_id, where)
            out.append(TemplateCount(service, template_id, text, n, first, new and first == t, err))
        self._write(t, out)
        for service in learnt:
            self._save(service)
        return out

    def new_template_anomalies(self, t: int, counts: list[TemplateCount]) -> list[Anomaly]:
        """Templates first seen at `t` in services that have logged for the warm-up period."""
        warm = t - self.params.new_template_warmup_minutes * MINUTE_S
        found = []
        for c in counts:
            if not c.new or self._since.get(c.service, t) > warm:
                continue
            key = SeriesKey("log_template", c.service, c.template_id, "count", LOG_COUNT)
            severity = "warning" if c.error else "info"
            found.append(
                Anomaly(
                    t, t + MINUTE_S, key, "drain-new", 0.0, float(c.count), float(c.count), severity, note=c.template
                )
            )
        return found

    def _write(self, t: int, counts: list[TemplateCount]) -> None:
        if not counts:
            return
        table = pa.table(
            {
                "Minute": pa.array([t] * len(counts), pa.timestamp("s")),
                "ServiceName": pa.array([c.service for c in counts], pa.string()),
                "TemplateId": pa.array([c.template_id for c in counts], pa.string()),
                "Template": pa.array([c.template for c in counts], pa.string()),
                "Count": pa.array([c.count for c in counts], pa.uint64()),
                "FirstSeen": pa.array([c.first_seen for c in counts], pa.timestamp("s")),
            }
        )
        digest = hashlib.sha1(repr([(c.service, c.template_id, c.count) for c in counts]).encode()).hexdigest()[:16]
        self.store.insert_arrow("kokanee_log_templates", table, token=f"log-templates-{t}-{digest}")

    def _save(self, service: str) -> None:
        miner, persistence = self._miners[service]
        miner.save_state("learnt a template")
        state = persistence.state
        self.store.command(
            "INSERT INTO kokanee_drain_state (ServiceName, State) VALUES ({s:String}, {state:String})",
            parameters={"s": service, "state": state.decode() if isinstance(state, bytes) else str(state)},
        )


SORTS = ("count", "change")


def templates_in(
    store: Store,
    service: str | None,
    start_s: int,
    end_s: int,
    limit: int = 200,
    points: int = 30,
    sort: str = "count",
) -> dict[str, Any]:
    """Templates logged in [start, end): their count, when first seen (and whether that was in the
    range), `series`, lines per step (`step_s`, whole minutes, at most `points` steps from
    `start_s`; null for steps not mined yet), and `before`, their lines in as much time just
    before the range as the range has mined (`before_s`: that stretch). Most lines first, or with
    `sort="change"` the counts that moved most against `before` first, either way, as a Poisson z:
    a template that stopped comes up as one that surged does."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    where = " AND ServiceName = {service:String}" if service else ""
    window = "Minute >= toDateTime({lo:Int64}) AND Minute < toDateTime({hi:Int64})"
    params: dict[str, Any] = {"lo": start_s, "hi": end_s, "service": service, "limit": limit}
    newest = store.query(
        f"SELECT toUnixTimestamp(max(Minute)), count() FROM kokanee_log_templates WHERE {window}", parameters=params
    ).rows
    last = int(newest[0][0]) if newest and newest[0][1] else None  # the last minute mined
    mined_until = start_s if last is None else min(end_s, last + MINUTE_S)
    params["before"] = start_s - (mined_until - start_s)
    order = (
        "abs(count - before) / sqrt(count + before + 1) DESC, count DESC"
        if sort == "change"
        else "count DESC, first_seen DESC"
    )
    found = store.query(
        f"""SELECT ServiceName AS service, TemplateId AS template_id, argMax(Template, Minute) AS template,
            sumIf(Count, Minute >= toDateTime({{lo:Int64}})) AS count,
            sumIf(Count, Minute < toDateTime({{lo:Int64}})) AS before,
            toUnixTimestamp(min(FirstSeen)) AS first_seen
        FROM kokanee_log_templates
        WHERE Minute >= toDateTime({{before:Int64}}) AND Minute < toDateTime({{hi:Int64}}){where}
        GROUP BY service, template_id {"" if sort == "change" else "HAVING count > 0"}
        ORDER BY {order}, template_id LIMIT {{limit:UInt32}}""",
        parameters=params,
    ).dicts()
    step = max(1, -(-(end_s - start_s) // (points * MINUTE_S))) * MINUTE_S
    answer: dict[str, Any] = {"step_s": step, "before_s": [params["before"], start_s], "patterns": found}
    if not found:
        return answer
    steps = max(1, -(-(end_s - start_s) // step))
    counts = store.query(
        f"""SELECT ServiceName, TemplateId, intDiv(toUnixTimestamp(Minute) - {{lo:Int64}}, {{step:Int64}}), sum(Count)
        FROM kokanee_log_templates WHERE {window}
            AND (ServiceName, TemplateId) IN {{pairs:Array(Tuple(String, String))}}
        GROUP BY 1, 2, 3""",
        parameters={**params, "step": step, "pairs": [(t["service"], t["template_id"]) for t in found]},
    ).rows
    # Steps after the one holding the last mined minute are not mined yet: unknown, not zero.
    mined = 0 if last is None else (last - start_s) // step + 1
    empty: list[int | None] = [0] * mined + [None] * (steps - mined)
    series: dict[tuple[str, str], list[int | None]] = {}
    for name, template_id, i, n in counts:
        series.setdefault((str(name), str(template_id)), list(empty))[int(i)] = int(n)
    for t in found:
        t["new"] = int(t["first_seen"]) >= start_s
        t["series"] = series.get((t["service"], t["template_id"]), empty)
    return answer


def covering_pattern(store: Store, service: str, template: str, start_s: int, end_s: int) -> str | None:
    """The id of the service's stored template, logged in [start, end), that covers `template`,
    another miner's text for some of the same lines (the root-cause ranker's, which mines a line's
    head with a stricter similarity): the same words, or `<*>` where they differ. The most specific
    such template (fewest `<*>`, then most lines); None when none covers it. A template cut short
    (a long line's head) is compared on its whole words."""
    mine = template.split()
    # Masks change a text's length: a template this near the head's length may have been cut.
    cut = len(template) >= 0.8 * MINED_HEAD_CHARS
    rows = store.query(
        """SELECT TemplateId, argMax(Template, Minute), sum(Count) FROM kokanee_log_templates
        WHERE ServiceName = {s:String} AND Minute >= toDateTime({lo:Int64}) AND Minute < toDateTime({hi:Int64})
        GROUP BY TemplateId""",
        parameters={"s": service, "lo": start_s, "hi": end_s},
    ).rows
    best: tuple[tuple[int, int], str] | None = None
    for template_id, text, n in rows:
        theirs = str(text).split()
        if cut:
            if len(theirs) < len(mine):
                continue
            pairs = list(zip(theirs, mine[:-1], strict=False))
        elif len(theirs) == len(mine):
            pairs = list(zip(theirs, mine, strict=True))
        else:
            continue
        if all(t in (w, "<*>") for t, w in pairs):
            rank = (sum(t == "<*>" for t in theirs), -int(n))
            if best is None or rank < best[0]:
                best = (rank, str(template_id))
    return best[1] if best else None


@dataclass(frozen=True)
class PatternFilter:
    """What picks a stored template's lines out of otel_logs (store.reads.logs.LogQuery's
    `body_regex` and `location`)."""

    template: str
    body_regex: str
    location: str | None


def pattern_filter(store: Store, service: str, template_id: str) -> PatternFilter | None:
    """The lines of a service's template, by its latest text (Drain only ever widens a template, so
    the latest covers every line it took); None when the service has no such template."""
    rows = store.query(
        """SELECT argMax(Template, Minute), count() FROM kokanee_log_templates
        WHERE ServiceName = {s:String} AND TemplateId = {t:String}""",
        parameters={"s": service, "t": template_id},
    ).rows
    if not rows or not rows[0][1]:
        return None
    template = str(rows[0][0])
    location = template_id.partition("@")[2] or None
    words = template.removeprefix(f"[{location}] ") if location else template
    return PatternFilter(template, template_regex(words), location)
