"""The trace autoencoder on hand-built traces in the shared chDB store, through its API: trained
on normal traces, it flags a trace that skips a call and says which features gave it away;
feedback marking a flagged trace normal changes the next model's verdict on it."""

from __future__ import annotations

import random

from kokanee.api.routes_rca import router
from kokanee.store.client import Store
from tests.api_client import api_client
from tests.test_rca import MINUTE, NS, Span, call_chain, day, write_spans

CHAIN = ["t20-web", "t20-orders", "t20-stock"]


def _normal(t: int, minutes: int, chain: list[str], rnd: random.Random) -> list[Span]:
    spans: list[Span] = []
    for i in range(minutes * 20):
        own = [ms * rnd.uniform(0.8, 1.25) for ms in (2.0, 4.0, 3.0)[: len(chain)]]
        spans += call_chain(t + i * 3 * NS, chain, own)
    return spans


def test_flags_a_trace_that_skips_a_call_and_explains_it(chdb_store: Store) -> None:
    t = day(20)
    rnd = random.Random(20)
    write_spans(chdb_store, _normal(t, 10, CHAIN, rnd))
    client = api_client(chdb_store, router)
    r = client.post("/api/v1/models/train", json={"start": t, "end": t + 10 * MINUTE})
    assert r.status_code == 200, r.text
    model = r.json()
    assert model["traces"] == 200 and model["features"] > 10 and model["threshold"] > 0

    later = t + 20 * MINUTE
    normal = _normal(later, 2, CHAIN, rnd)
    skipped = call_chain(later + 30 * NS, CHAIN[:2], [2.0, 4.0])  # orders never calls stock
    write_spans(chdb_store, normal + skipped)
    r = client.post("/api/v1/models/score", json={"start": later, "end": later + 2 * MINUTE})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["traces"] == 41 and body["model"]["version"] == model["version"]
    flagged = {f["trace_id"]: f for f in body["flagged"]}
    assert skipped[0].trace_id in flagged
    assert body["flagged_count"] <= 3, body["flagged"]  # at most a couple of normal ones
    top = [e["feature"] for e in flagged[skipped[0].trace_id]["explanation"][:3]]
    assert {"calls:t20-orders>t20-stock", "spans:t20-stock", "self_ms:t20-stock"} & set(top), top


def test_feedback_changes_the_next_models_verdict(chdb_store: Store) -> None:
    chain = ["t21-web", "t21-orders", "t21-stock"]
    t = day(21)
    rnd = random.Random(21)
    write_spans(chdb_store, _normal(t, 10, chain, rnd))
    client = api_client(chdb_store, router)
    assert client.post("/api/v1/models/train", json={"start": t, "end": t + 10 * MINUTE}).status_code == 200

    later = t + 20 * MINUTE
    # A new path: stock now calls a pricing service, which training never saw.
    extended = call_chain(later + 10 * NS, [*chain, "t21-pricing"], [2.0, 4.0, 3.0, 1.0])
    write_spans(chdb_store, extended)
    window = {"start": later, "end": later + MINUTE}
    first = client.post("/api/v1/models/score", json=window).json()
    trace_id = extended[0].trace_id
    assert trace_id in {f["trace_id"] for f in first["flagged"]}

    r = client.post("/api/v1/models/feedback", json={"trace_id": trace_id, "verdict": "normal"})
    assert r.status_code == 200, r.text
    retrained = client.post("/api/v1/models/train", json={"start": t, "end": t + 10 * MINUTE}).json()
    assert retrained["version"] == first["model"]["version"] + 1
    assert retrained["traces"] == 200 + 10  # the marked trace, weighted
    second = client.post("/api/v1/models/score", json=window).json()
    assert second["model"]["version"] == retrained["version"]
    assert trace_id not in {f["trace_id"] for f in second["flagged"]}
    # The older model still says what it said: versions are kept.
    old = client.post("/api/v1/models/score", json={**window, "version": first["model"]["version"]}).json()
    assert trace_id in {f["trace_id"] for f in old["flagged"]}
    listed = client.get("/api/v1/models").json()["models"]
    assert [m["version"] for m in listed][:2] == [retrained["version"], first["model"]["version"]]


def test_bad_requests_are_4xx(chdb_store: Store) -> None:
    client = api_client(chdb_store, router)
    r = client.post("/api/v1/models/train", json={"start": day(22), "end": day(22) + MINUTE})
    assert r.status_code == 400 and "traces" in r.json()["error"]
    r = client.post("/api/v1/models/feedback", json={"trace_id": "not-hex", "verdict": "normal"})
    assert r.status_code == 400
    r = client.post("/api/v1/models/feedback", json={"trace_id": "ab" * 16, "verdict": "maybe"})
    assert r.status_code == 400 and "verdict" in r.json()["error"]
