"""The schema on a ClickHouse cluster (kokanee.store.cluster): every statement is accepted by
ClickHouse's own parser, the whole rendering is a reviewed golden file, and the non-replicated
equivalent (the same local and Distributed tables, MergeTree for Replicated*) runs on chDB with
a one-shard cluster in its config, where spans go in through the Distributed tables and come back
through kokanee's reads.

No ClickHouse Keeper or server runs here, so `Replicated*MergeTree` and `ON CLUSTER` are checked
by the parser only; docs/clickhouse.md says so.

Regenerate the golden file after a schema change with KOKANEE_REGENERATE_GOLDEN=1, and review its diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kokanee.config import ConfigError, load_config
from kokanee.store.client import Store
from kokanee.store.cluster import SHARDED, Cluster, UnshardedView
from kokanee.store.migrations import schema_statements

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "testdata" / "cluster" / "schema.sql"
CLUSTER = Cluster("kokanee")


def _rendered() -> str:
    return "".join(f"{statement};\n\n" for statement in schema_statements(CLUSTER))


def test_the_cluster_schema_is_the_reviewed_golden_file() -> None:
    text = _rendered()
    if os.environ.get("KOKANEE_REGENERATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "the cluster DDL changed: rerun with KOKANEE_REGENERATE_GOLDEN=1 and review"


def test_the_cli_prints_the_same_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kokanee", "schema", "--cluster", "kokanee"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert out.strip() == _rendered().strip()


def test_clickhouse_parses_every_cluster_statement(chdb_store: Store) -> None:
    """formatQuery is ClickHouse's own parser and formatter: a statement it returns is valid SQL for
    the server version chDB embeds, ON CLUSTER and Replicated engines included."""
    for statement in schema_statements(CLUSTER):
        rows = chdb_store.query("SELECT formatQuery({q:String})", parameters={"q": statement}).rows
        formatted = str(rows[0][0])
        if re.match(r"(CREATE|DROP|TRUNCATE|ALTER|RENAME)\b", statement):
            assert "ON CLUSTER kokanee" in formatted, statement[:80]


def test_sharded_tables_are_replicated_per_shard_and_the_rest_on_every_node() -> None:
    statements = schema_statements(CLUSTER)
    creates = {m.group(1): s for s in statements if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", s))}
    for table, key in SHARDED.items():
        local = creates[f"{table}_local"]
        assert re.search(r"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/\{shard\}/", local), table
        assert "'{replica}'" in local
        # WAL replays are dropped by token within the window, as non-replicated tables do on one node.
        assert "replicated_deduplication_window = 10000" in local and "non_replicated" not in local
        assert f"Distributed(kokanee, currentDatabase(), {table}_local, {key})" in creates[table]
    for table in ("kokanee_red_1m_local", "kokanee_service_edges_1h_local"):
        assert "ReplicatedAggregatingMergeTree" in creates[table]
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/" in creates["kokanee_schema_migrations"]
    assert "'{shard}-{replica}'" in creates["kokanee_schema_migrations"]
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    assert views and all(re.search(r" TO \w+_local AS", v) for v in views)
    assert all(not re.search(r"FROM (otel_\w+|kokanee_\w+)\b(?<!_local)", v) for v in views)


def test_a_view_from_a_sharded_table_into_an_unsharded_one_is_refused() -> None:
    with pytest.raises(UnshardedView, match="otel_traces"):
        CLUSTER.render("CREATE MATERIALIZED VIEW v TO kokanee_other AS SELECT 1 FROM otel_traces")


def test_alters_and_drops_reach_the_local_tables() -> None:
    assert CLUSTER.render("ALTER TABLE otel_traces MODIFY TTL toDateTime(Timestamp) + INTERVAL 1 DAY") == [
        "ALTER TABLE otel_traces_local ON CLUSTER kokanee MODIFY TTL toDateTime(Timestamp) + INTERVAL 1 DAY"
    ]
    assert CLUSTER.render("ALTER TABLE otel_logs ADD COLUMN IF NOT EXISTS X String") == [
        "ALTER TABLE otel_logs_local ON CLUSTER kokanee ADD COLUMN IF NOT EXISTS X String",
        "ALTER TABLE otel_logs ON CLUSTER kokanee ADD COLUMN IF NOT EXISTS X String",
    ]
    assert CLUSTER.render("DROP TABLE IF EXISTS kokanee_red_1m") == [
        "DROP TABLE IF EXISTS kokanee_red_1m ON CLUSTER kokanee SYNC",
        "DROP TABLE IF EXISTS kokanee_red_1m_local ON CLUSTER kokanee SYNC",
    ]
    assert CLUSTER.render("TRUNCATE TABLE IF EXISTS otel_traces") == [
        "TRUNCATE TABLE IF EXISTS otel_traces_local ON CLUSTER kokanee"
    ]


_CONFIG = """
<clickhouse>
  <tcp_port>19000</tcp_port>
  <remote_servers>
    <kokanee><shard><replica><host>localhost</host><port>19000</port></replica></shard></kokanee>
    <twice>
      <shard><replica><host>localhost</host><port>19000</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>19000</port></replica></shard>
    </twice>
  </remote_servers>
  <macros><shard>01</shard><replica>a</replica></macros>
</clickhouse>
"""

# In a process of its own: the engine starts with the cluster in its config (chDB opens one
# engine per process). The shard's host is this engine (tcp_port), so the Distributed tables
# write and read it directly; nothing listens on the port.
_SCRIPT = """
import json, sys, uuid
from pathlib import Path
import chdb
data, config = Path(sys.argv[1]), sys.argv[2]
engine = chdb.connect(f"file:{data}/store?config-file={config}")  # held: the engine lives while a handle does
from kokanee.config import ConfigError, load_config
from kokanee.store.client import Store
from kokanee.store.cluster import Cluster
from kokanee.store.migrations import MIGRATIONS, migrate
from kokanee.store.reads.red import service_red
from kokanee.store.reads.traces import get_trace
from tests.test_trace_lookup import T0, NS, spans_request

store = Store(f"chdb://{data}/store", Cluster("kokanee", replicated=False))
applied = migrate(store)
trace = uuid.uuid4().hex
body = spans_request(trace, [("frontend", "GET /", 1.0), ("cart", "GET /cart", 1.1), ("cart", "GET /cart", 1.2)])
for _ in range(2):  # a WAL replay: the same batch, the same token
    store.insert_otlp("traces", [body], "batch-1", data / "spool")
engines = dict(store.query(
    "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND name LIKE 'otel_traces%'"
).rows)
red = service_red(store, T0, T0 + 600 * NS)
# Two shards that are both this engine hold the same rollup rows: read through a Distributed table
# over them, each shard aggregates its rows and the reader merges the two partial results.
store.command("CREATE TABLE red_twice AS kokanee_service_red_1m_local "
              "ENGINE = Distributed(twice, currentDatabase(), kokanee_service_red_1m_local)")
merged = "SELECT ServiceName, sum(Requests), sumMap(DurationHistogram) FROM {} GROUP BY ServiceName ORDER BY 1"
one, two = (store.query(merged.format(t)).rows for t in ("kokanee_service_red_1m_local", "red_twice"))
print(json.dumps({
    "applied": applied == [m.version for m in MIGRATIONS],
    "engines": engines,
    "spans": store.query("SELECT count() FROM otel_traces").rows[0][0],
    "local": store.query("SELECT count() FROM otel_traces_local").rows[0][0],
    "trace": len(get_trace(store, trace)),
    "red": {name: stats.requests for name, stats in red.items()},
    "two shards merge": [
        (s2, 2 * n1, [2 * c for c in h1[1]]) == (s1, n2, list(h2[1])) and list(h1[0]) == list(h2[0])
        for (s1, n1, h1), (s2, n2, h2) in zip(one, two, strict=True)
    ],
}))
"""


def test_the_non_replicated_equivalent_runs_on_chdb_through_distributed_tables(tmp_path: Path) -> None:
    config = tmp_path / "config.xml"
    config.write_text(_CONFIG)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRIPT), str(tmp_path), str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["applied"]
    assert result["engines"]["otel_traces"] == "Distributed"
    assert result["engines"]["otel_traces_local"] == "MergeTree"
    assert result["engines"]["otel_traces_trace_id_ts"] == "Distributed"
    # The replayed batch was dropped by its token; the views on the local table counted it once.
    assert (result["spans"], result["local"], result["trace"]) == (3, 3, 3)
    assert result["red"] == {"cart": 2, "frontend": 1}
    # Each shard's partial sums and sumMap histograms merge into the whole (here: twice one shard's).
    assert result["two shards merge"] == [True, True]


_TWO_SHARDS = """
<clickhouse>
  <remote_servers><kokanee>
    <shard><replica><host>127.0.0.2</host><port>1</port></replica></shard>
    <shard><replica><host>127.0.0.3</host><port>1</port></replica></shard>
  </kokanee></remote_servers>
</clickhouse>
"""

# Two shards that cannot be reached: ClickHouse plans each read in full (and refuses a JOIN or IN
# of one Distributed table inside another, code 288) before it connects, so a read that fails only
# for want of a connection would run on a real cluster of two shards.
_PLAN_SCRIPT = """
import json, sys
from pathlib import Path
import chdb
data, config = Path(sys.argv[1]), sys.argv[2]
engine = chdb.connect(f"file:{data}/store?config-file={config}")
from kokanee.derive.servicegraph import run_minute
from kokanee.config import ConfigError, load_config
from kokanee.store.client import Store
from kokanee.store.cluster import Cluster
from kokanee.store.migrations import schema_statements
from kokanee.store.reads.red import service_red
from kokanee.store.reads.traces import get_trace, list_services

store = Store(f"chdb://{data}/store", Cluster("kokanee", replicated=False))
for statement in schema_statements(store.cluster):
    if not statement.startswith("INSERT"):  # backfills read the shards
        store.command(statement)
reads = {
    "trace by id": lambda: get_trace(store, "0" * 31 + "1"),
    "service RED": lambda: service_red(store, 0, 60 * 10**9),
    "services": lambda: list_services(store, 0, 60 * 10**9),
    "service-graph pairing": lambda: run_minute(store, 0, 10**9),
}
outcome = {}
for name, read in reads.items():
    try:
        read()
        outcome[name] = "ran"
    except Exception as e:
        outcome[name] = "refused" if "DISTRIBUTED_IN_JOIN_SUBQUERY_DENIED" in str(e) else "no connection"
try:
    store.query("SELECT count() FROM otel_traces WHERE TraceId IN (SELECT TraceId FROM kokanee_trace_keys)",
                settings={"distributed_product_mode": "deny"})
except Exception as e:
    outcome["control"] = "refused" if "DISTRIBUTED_IN_JOIN_SUBQUERY_DENIED" in str(e) else str(e)[:200]
print(json.dumps(outcome))
"""


def test_kokanee_s_reads_pass_clickhouse_s_planning_on_two_shards(tmp_path: Path) -> None:
    config = tmp_path / "config.xml"
    config.write_text(_TWO_SHARDS)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PLAN_SCRIPT), str(tmp_path), str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    outcome = json.loads(out.stdout.strip().splitlines()[-1])
    # The same kind of query without the store's distributed_product_mode is refused.
    assert outcome.pop("control") == "refused"
    assert outcome == {name: "no connection" for name in outcome}


def test_statements_other_than_ddl_run_as_written() -> None:
    """Inserts and backfills go through the Distributed tables unchanged (the deriver's insert
    has a `NOT IN (SELECT ...)`, which must stay as it is)."""
    from kokanee.derive.servicegraph import INSERT_EDGES
    from kokanee.store.schema_derived import TRACE_KEYS_BACKFILL

    for statement in (INSERT_EDGES, TRACE_KEYS_BACKFILL, "INSERT INTO kokanee_derive_state (Name) VALUES ('x')"):
        assert CLUSTER.render(statement) == [statement]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"cluster": "kokanee"}, "cluster needs a ClickHouse server"),
        ({"cluster": "a-b", "store": "http://h:8123/db"}, "cluster: Value error, must be a cluster name"),
    ],
    ids=["a cluster on the embedded store", "a name ClickHouse would not take"],
)
def test_bad_cluster_settings_are_named(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config(values)


def test_a_cluster_setting_reaches_the_store_s_rendering() -> None:
    config = load_config({"cluster": "kokanee", "store": "http://kokanee:secret@ch-1:8123/kokanee"})
    assert config.cluster == "kokanee"
    assert Store(config.store_url, config.cluster).cluster == CLUSTER
