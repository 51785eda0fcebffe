"""Migration 15: the service-graph deriver reads otel_traces, and the span index gives way to a
table of which minutes received spans (kokanee_span_arrivals).

An existing store (migrated to 14, spans in it, two minutes not yet closed) is upgraded: the span
index is gone, the minutes stored before the upgrade but not yet closed are closed with the edges
their spans make, and spans arriving after it (live, and imported history) are paired as before.
In a process of its own: chDB opens one data path per process.
"""

from __future__ import annotations

from pathlib import Path

from tests.own_process import run_script

_UPGRADE_SCRIPT = """
import json, sys, uuid
from pathlib import Path
from kokanee.derive.runner import Deriver
from kokanee.store.client import Store
from kokanee.store.migrations import MIGRATIONS, migrate
from tests.test_servicegraph import MINUTE_NS, T0, WAIT, S, close, edges, request

data = Path(sys.argv[1])
store = Store(f"chdb://{data}/store")

def ingest(*spans):
    store.insert_otlp("traces", [request(*spans).SerializeToString()], uuid.uuid4().hex, data / "spool")

def tables():
    sql = "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'kokanee_span_%'"
    return sorted(str(r[0]) for r in store.query(sql).rows)

migrate(store, tuple(m for m in MIGRATIONS if m.version < 15))
before = tables()
# Two minutes stored, not yet closed by the deriver when the store is upgraded.
ingest(S("web", "server", 1, ms=50), S("web", "client", 2, 1, at=1.01, ms=30), S("cart", "server", 3, 2, at=1.02))
ingest(
    S("web", "server", 11, at=61, trace=2),
    S("web", "client", 12, 11, at=61.1, attrs={"db.system": "postgresql", "server.address": "pg"}, trace=2),
)
applied = migrate(store)
after = tables()
arrivals = store.query("SELECT toUnixTimestamp(Minute), sum(Spans) FROM kokanee_span_arrivals GROUP BY 1 ORDER BY 1")
arrived = {str((int(m) * 10**9 - T0) // MINUTE_NS): int(n) for m, n in arrivals.rows}
# The new deriver closes both from otel_traces; history imported after that, into a minute before
# the watermark that was never closed, is closed by the backfill pass (by arrival).
closed_new = close(store, minutes=2)
close(store, minutes=2)  # the next tick: from now on, spans arriving are looked at by arrival
ingest(S("web", "client", 21, at=-270, trace=3))
ingest(S("search", "server", 22, 21, at=-269.99, trace=3))
backfilled = Deriver(store, wait_s=WAIT / 10**9).run_once(T0 + 2 * MINUTE_NS + WAIT)
print(json.dumps({
    "applied": applied, "before": before, "after": after, "arrived": arrived, "closed_new": closed_new,
    "backfilled": backfilled,
    "edges": [[*k, *v] for k, v in sorted(edges(store).items())],
}))
"""


def test_upgrade_drops_the_span_index_and_keeps_pairing(tmp_path: Path) -> None:
    result = run_script(_UPGRADE_SCRIPT, str(tmp_path))
    assert result["applied"] == [15]
    assert result["before"] == ["kokanee_span_index", "kokanee_span_index_mv"]
    assert result["after"] == ["kokanee_span_arrivals", "kokanee_span_arrivals_mv"]
    # The hour before the upgrade is taken over from otel_traces: 3 spans in minute 0, 2 in minute 1.
    assert result["arrived"] == {"0": 3, "1": 2}
    assert result["closed_new"] == 2
    assert result["backfilled"] == 1
    assert result["edges"] == [
        [-5, "web", "search", "", 1, 0],
        [0, "user", "web", "virtual_node", 1, 0],
        [0, "web", "cart", "", 1, 0],
        [1, "user", "web", "virtual_node", 1, 0],
        [1, "web", "pg", "database", 1, 0],
    ]
