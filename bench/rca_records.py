"""A digest of what the root-cause ranking reads and answers, for a few stored questions: run it
under the old and the new code (PYTHONPATH) after a change to how records are read, and compare.
Rows are compared as sorted multisets (a query without ORDER BY may return them in any order).

    nice .venv/bin/python bench/rca_records.py STORE_DIR [STORE_DIR ...]

Each STORE_DIR is a chDB store (e.g. /tmp/kokanee-rca-bench/nezha-data/store); four windows spread
among its spans (quantiles of their times) are asked, with baselines given (10 to 20 minutes and
the minute before) and window only.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from typing import Any

from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import rank_window
from kokanee.analysis.rca.records import Records, read_records
from kokanee.store.client import Store

NS = 1_000_000_000
WINDOW_S = 180


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(repr(sorted(repr(p) for p in parts)).encode()).hexdigest()[:16]


def digests(records: Records) -> dict[str, str]:
    spans = [*records.spans.per_base, records.spans.window]
    series, logs = records.series, records.logs
    return {
        "baselines": repr(records.baselines),
        "spans": _digest([sorted(map(repr, s.table.to_pylist())) for s in spans]),
        "series": _digest([(p.service, p.name, p.metric, p.baseline.tolist(), p.window.tolist()) for p in series]),
        # Alike baseline lines come as one, with the time, span and trace of whichever came first
        # from a query without ORDER BY: those differ from run to run, so they are left out.
        "logs": _digest([line if line.part == -1 else replace(line, at=0, span_id="", trace_id="") for line in logs]),
        "edges": _digest(sorted((k, sorted(v)) for k, v in records.edges.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stores", nargs="+")
    args = parser.parse_args()
    params = RcaParams()
    for path in args.stores:
        store = Store(f"chdb://{path}")
        sql = "SELECT quantilesExact(0.2, 0.4, 0.6, 0.8)(toUnixTimestamp64Nano(Timestamp)) FROM otel_traces"
        for start in (int(t) for t in store.query(sql).rows[0][0]):
            reference = (start - 20 * 60 * NS, start - 10 * 60 * NS)
            for protocol, baseline in (("reference", [reference, (start - 60 * NS, start)]), ("window", None)):
                end = start + WINDOW_S * NS
                records = read_records(store, start, end, baseline, params)
                causes = rank_window(store, start, end, baseline, params)[0]
                ranking = [(c.service, round(c.score, 9)) for c in causes]
                print(path, start, protocol, digests(records), "ranking", _digest([ranking]), ranking[:3])
        store.close()


if __name__ == "__main__":
    main()
