"""What the trace autoencoder sees on Nezha's faults that the per-service statistics do not.

The model is trained on the recording's fault-free `construct_data` stretch (the same code path as
`kokanee model train`: trace_features + autoencoder.fit). For each fault window it flags traces;
a flagged trace "points at" the root cause when the root-cause service is on it. Reported per
fault type:

- flagged: traces flagged / traces in the window (the model's false-positive level shows in the
  fault-free stretch itself: the threshold flags ~1% of training traces by construction);
- lift: the share of flagged traces that pass through the root-cause service over the share of
  all window traces that do (1 = no better than chance);
- structural: flagged traces through the root cause whose top explanation is a call or span-count
  feature (a call skipped or added), not a time;
- statistical first: whether the per-service statistical detectors alone (metric z-scores, self
  time, edge time, error origins: rank_causes' combination without the log and call-structure
  kinds) rank the root cause first.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kokanee.analysis.autoencoder import AutoencoderParams, fit  # noqa: E402
from kokanee.analysis.rca import ranker  # noqa: E402
from kokanee.analysis.rca.params import RcaParams  # noqa: E402
from kokanee.analysis.rca.records import read_spans  # noqa: E402
from kokanee.analysis.trace_features import group_traces, summarise, vectorise, vocabulary  # noqa: E402
from kokanee.store.client import Store  # noqa: E402

NS = 1_000_000_000
STATISTICAL = {"metric", "latency", "edge", "error"}


def autoencoder(console: Console) -> None:
    from rca_nezha import BASELINE_S, DATA_DIR, WINDOW_S, construct_window, import_day

    import_day(console)
    normal = construct_window()
    store = Store(f"chdb://{DATA_DIR / 'store'}")
    params = AutoencoderParams()
    train = [summarise(t, s) for t, s in group_traces(read_spans(store, *normal, params.max_spans)).items()]
    features = vocabulary(train)
    model = fit(vectorise(train, features), features, params)
    faults = store.query(
        "SELECT toUnixTimestamp64Nano(Start), ServiceName, Kind FROM kokanee_fault_labels FINAL "
        "WHERE Source = 'nezha' ORDER BY Start"
    ).rows
    rows: dict[str, list[tuple[float, float, float, bool]]] = defaultdict(list)
    for start, truth, kind in faults:
        start = int(start)
        window = (start, start + WINDOW_S * NS)
        traces = [summarise(t, s) for t, s in group_traces(read_spans(store, *window, params.max_spans)).items()]
        x = vectorise(traces, features)
        scores = model.scores(x)
        flagged = [i for i in range(len(traces)) if scores[i] > model.threshold]
        through = [i for i in range(len(traces)) if truth in traces[i].spans]
        flagged_through = [i for i in flagged if truth in traces[i].spans]
        base_share = len(through) / max(1, len(traces))
        lift = (len(flagged_through) / len(flagged)) / base_share if flagged and base_share else 0.0
        structural = sum(
            1
            for i in flagged_through
            if (e := model.explain(x[i], 1)) and e[0]["feature"].split(":")[0] in ("calls", "spans", "other_calls")
        )
        baselines = [normal, (start - BASELINE_S * NS, start)]
        kinds = ranker.metric_detector(store, window, baselines, RcaParams())
        more, calls = ranker.trace_and_log_detectors(store, window, baselines, RcaParams())
        stat_kinds = [k for k in [*kinds, *more] if k.kind in STATISTICAL]
        causes = ranker.combine(stat_kinds, calls, RcaParams())
        statistical = bool(causes) and causes[0].service == truth
        rows[str(kind)].append((len(flagged) / max(1, len(traces)), lift, structural, statistical))
    store.close()
    table = Table(
        title=f"trace autoencoder on Nezha ({len(train)} fault-free training traces, {len(features)} features)"
    )
    for column in ("faults", "cases", "flagged", "lift", "with structural flags", "statistics rank it first"):
        table.add_column(column, justify="left" if column == "faults" else "right")
    for kind in sorted(rows):
        r = rows[kind]
        table.add_row(
            kind,
            str(len(r)),
            f"{100 * sum(x[0] for x in r) / len(r):.1f}%",
            f"{sum(x[1] for x in r) / len(r):.2f}",
            f"{sum(1 for x in r if x[2] > 0)}/{len(r)}",
            f"{sum(1 for x in r if x[3])}/{len(r)}",
        )
    console.print(table)
