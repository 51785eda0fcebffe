"""The attack corpus (tests/test_sandbox_attacks.yaml): over 500 distinct statements that try to
write, read outside kokanee's tables or the server's own state, reach the network or files, lift the
limits, or scan without bound. The sandbox refuses every one, in-process and through POST /api/v1/query."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import httpx
import pytest
import yaml

from kokanee.store.sandbox import SandboxRefused, check_sql
from tests.server import KokaneeServer

CORPUS = Path(__file__).with_suffix(".yaml")


def expand() -> list[tuple[str, str]]:
    """(category, statement) for every template expansion and fixed statement."""
    out: list[tuple[str, str]] = []
    for category, spec in yaml.safe_load(CORPUS.read_text()).items():
        values: dict[str, list[str]] = spec.get("values", {})
        for template in spec.get("templates", []):
            names = sorted(set(re.findall(r"(?<!\{)\{(\w+)\}(?!\})", template)))
            for combo in itertools.product(*(values[n] for n in names)):
                out.append((category, template.format(**dict(zip(names, combo, strict=True)))))
        out += [(category, s) for s in spec.get("fixed", [])]
    return out


ATTACKS = expand()


def test_the_corpus_is_big_and_every_statement_distinct() -> None:
    statements = [s for _, s in ATTACKS]
    assert len(statements) >= 500
    assert len(set(statements)) == len(statements)
    assert {c for c, _ in ATTACKS} >= {
        "ddl", "dml", "multi_statement", "system_tables", "table_functions", "scalar_functions", "settings",
        "comment_tricks", "huge_scans", "quoting_tricks", "introspection", "outside_the_data",
    }  # fmt: skip


@pytest.mark.parametrize(("category", "sql"), ATTACKS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(ATTACKS)])
def test_the_sandbox_refuses(category: str, sql: str) -> None:
    with pytest.raises(SandboxRefused):
        check_sql(sql)


def test_the_query_endpoint_refuses_them_all_and_the_data_is_intact(kokanee_server: KokaneeServer) -> None:
    before = kokanee_server.query("SELECT count() AS n FROM otel_traces")
    with httpx.Client(base_url=kokanee_server.api_url, timeout=30) as client:
        answers = [client.post("/api/v1/query", json={"sql": sql}) for _, sql in ATTACKS]
    accepted = [sql for (_, sql), r in zip(ATTACKS, answers, strict=True) if r.status_code != 400]
    assert accepted == []
    assert all(r.json()["error"] for r in answers)
    assert kokanee_server.query("SELECT count() AS n FROM otel_traces") >= before
