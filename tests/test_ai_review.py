"""The architecture review: each detector on hand-drawn traces, and the ranked report over a
store's traffic (the test shop's catalog queries its database twelve times per request)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from kokanee.ai.review import _Findings, review, review_traces, single_points_of_failure
from kokanee.ai.review_summary import evidence, summarize
from kokanee.ai.verify import verify
from kokanee.store.client import Store
from tests.llm.spans import Shop
from tests.server import KokaneeServer

MS = 1_000_000


def span(sid: str, parent: str, service: str, name: str, kind: str = "Server", at: int = 0, error: bool = False,
         trace: str = "t1", **attrs: str) -> dict[str, Any]:  # fmt: skip
    return {"trace_id": trace, "span_id": sid, "parent_span_id": parent, "service_name": service, "name": name,
            "kind": kind, "start_time_unix_nano": at * MS, "status_code": "Error" if error else "Unset",
            "attributes": attrs}  # fmt: skip


def kinds(traces: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {f.kind: f.to_json() for f in review_traces(traces).by_key.values()}


def test_retry_storm_and_swallowed_errors() -> None:
    spans = [span("r", "", "web", "GET /pay"), span("c", "r", "web", "call pay", "Client")]
    spans += [span(f"p{i}", "c", "web", "POST pay", "Client", at=i, error=i < 3) for i in range(4)]
    spans += [span(f"s{i}", f"p{i}", "pay", "Charge", at=i, error=i < 3) for i in range(4)]
    found = kinds({"t1": spans})
    assert found["retry_storm"]["subject"] == "web: POST pay"
    assert found["retry_storm"]["evidence"] == {"max_attempts": 4, "max_failed_attempts": 3}
    assert found["error_rethrown"]["subject"] == "pay → web"  # the failed tries' client spans fail too
    ok_caller = [span("r", "", "web", "GET /"), span("c", "r", "web", "GET stock", "Client"),
                 span("s", "c", "stock", "Stock", error=True)]  # fmt: skip
    assert kinds({"t2": ok_caller})["error_swallowed"]["subject"] == "stock → web"


def test_fan_out_chatty_edge_and_deep_chain() -> None:
    fan = [span("r", "", "gw", "GET /home")]
    fan += [span(f"c{i}", "r", "gw", f"call {i}", "Client") for i in range(6)]
    fan += [span(f"s{i}", f"c{i}", f"svc{i}", "Get") for i in range(6)]
    assert kinds({"t": fan})["fan_out"]["evidence"]["max_services"] == 6  # through its client spans
    direct = [span("r", "", "gw", "GET /home")] + [span(f"s{i}", "r", f"svc{i}", "Get") for i in range(6)]
    assert kinds({"t": direct})["fan_out"]["evidence"]["max_services"] == 6
    chatty = [span("r", "", "web", "GET /list")] + [span(f"s{i}", "r", "items", "GetItem") for i in range(12)]
    assert kinds({"t": chatty})["chatty_edge"]["evidence"]["max_calls_per_request"] == 12
    chain = [span("s0", "", "a", "op")] + [span(f"s{i}", f"s{i - 1}", "abcdef"[i], "op") for i in range(1, 6)]
    assert kinds({"t": chain})["deep_chain"]["evidence"]["max_service_hops"] == 6
    assert kinds({"t": chain[:3]}) == {}


def test_single_point_of_failure() -> None:
    def trace(tid: str, root: str, *via: str) -> list[dict[str, Any]]:
        spans = [span("r", "", root, "GET", trace=tid)]
        return spans + [span(f"v{i}", "r", s, "op", trace=tid) for i, s in enumerate(via)]

    entries = {
        "browse": [trace(f"b{i}", "web", "auth", "catalog") for i in range(10)],
        "buy": [trace(f"c{i}", "web", "auth", "pay") for i in range(9)] + [trace("c9", "web", "pay")],
    }
    found = _Findings()
    single_points_of_failure(entries, found)
    assert [k for k in found.by_key] == [("single_point_of_failure", "auth")]


def test_the_review_of_a_store(chdb_store: Store, tmp_path: Any) -> None:
    shop = Shop()
    req, _ = shop.traces(minutes_ago=4, count=8)
    chdb_store.insert_otlp("traces", [req.SerializeToString()], uuid.uuid4().hex, tmp_path)
    end = time.time_ns()
    report = review(chdb_store, end - 15 * 60 * 10**9, end, entries=50)
    ours = [f for f in report["findings"] if shop.suffix in f["subject"]]
    by_kind = {f["kind"]: f for f in ours}
    n1 = by_kind["n_plus_one"]
    assert n1["subject"] == f"{shop.catalog}: ListProducts → SELECT products"
    assert n1["evidence"]["max_calls_per_parent"] == 12 and n1["evidence"]["target"] == "postgresql"
    assert n1["traces_affected"] == 8 and len(n1["sample_traces"]) == 3
    assert by_kind["error_rethrown"]["subject"] == f"{shop.checkout} → {shop.frontend}"
    assert by_kind["error_rethrown"]["traces_affected"] == 4
    scores = [f["score"] for f in report["findings"]]
    assert scores == sorted(scores, reverse=True)
    ev = evidence({**report, "findings": ours})
    summary = summarize({**report, "findings": ours}, None)
    assert summary["source"] == "template" and summary["text"].startswith(f"N+1: ListProducts in {shop.catalog}")
    assert "in 8 traces: batch the repeated calls into one query or request [E1]." in summary["text"]
    assert verify(summary["text"], ev).removed == []
    invented = verify("N+1 in payments-db affects 500 traces [E1].", ev)
    assert not invented.claims[0].supported


def test_the_review_endpoint(kokanee_server: KokaneeServer) -> None:
    body = httpx.get(f"{kokanee_server.api_url}/api/v1/review", params={"start": "now-30m"}, timeout=60)
    assert body.status_code == 200 and {"findings", "summary", "traces_reviewed", "narrative"} <= set(body.json())
    assert body.json()["narrative"]["source"] == "template"
    bad = httpx.get(f"{kokanee_server.api_url}/api/v1/review", params={"entries": 0})
    assert bad.status_code == 400 and "entries" in bad.json()["error"]


@pytest.mark.parametrize("n", [4])
def test_below_the_thresholds_nothing_is_found(n: int) -> None:
    spans = [span("r", "", "web", "GET")] + [span(f"q{i}", "r", "web", "SELECT", "Client") for i in range(n)]
    assert kinds({"t": spans}) == {}
