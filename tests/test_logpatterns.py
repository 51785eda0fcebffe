"""Log templates mined with Drain on real chDB: counts per minute, new templates, surges, restarts."""

from __future__ import annotations

import random
import re

import pyarrow as pa

from kokanee.analysis.anomaly_params import DEFAULT_PARAMS
from kokanee.analysis.detector import Detector
from kokanee.analysis.logpatterns import LogPatterns, covering_pattern, templates_in
from kokanee.api.routes_signals import router
from kokanee.store.client import Store
from tests.api_client import api_client
from tests.test_anomaly_helpers import NS, anomalies_of, minute, write_logs

SERVICE = "drain-shop"


def _lines(m: int, rng: random.Random, carts: int = 5) -> list[tuple[int, str, str]]:
    out = []
    for i in range(10):
        out.append(
            (m * NS + i * NS, "INFO", f"User {rng.randint(1, 9999)} logged in from 10.0.{i}.{rng.randint(1, 254)}")
        )
    for i in range(carts):
        out.append(
            (m * NS + i * 10_000_000, "INFO", f"Cart {rng.randint(1, 999)} updated with {rng.randint(1, 9)} items")
        )
    return out


def test_new_and_surging_templates_are_flagged_and_templates_survive_a_restart(chdb_store: Store) -> None:
    rng = random.Random(1)
    lo = minute(40, 10, 0)
    new_at, surge_at = lo + 40 * 60, lo + 42 * 60
    lines = []
    for k in range(45):
        m = lo + k * 60
        lines += _lines(m, rng, carts=200 if m == surge_at else 5)
        if m == new_at:
            lines += [
                (m * NS + i, "ERROR", f"Payment gateway timeout after {3000 + i} ms for order {i}") for i in range(4)
            ]
    write_logs(chdb_store, SERVICE, lines)

    Detector(chdb_store).judge(lo, lo + 45 * 60)

    found = anomalies_of(chdb_store, SERVICE)
    assert [(a["t"], a["Detector"], a["Severity"]) for a in found if a["Detector"] == "drain-new"] == [
        (new_at, "drain-new", "warning")
    ]
    new = next(a for a in found if a["Detector"] == "drain-new")
    assert new["Actual"] == 4
    surges = [a for a in found if a["Signal"] == "log_template" and a["Detector"] != "drain-new"]
    assert [(a["t"], a["Actual"]) for a in surges] == [(surge_at, 200)]
    assert 4 <= float(surges[0]["Expected"]) <= 6
    # Nothing else in the whole period: the steady templates are quiet.
    assert len(found) == 2

    templates = {t["template"]: t for t in templates_in(chdb_store, SERVICE, lo, lo + 45 * 60)["patterns"]}
    assert set(templates) == {
        "User <NUM> logged in from <IP>",
        "Cart <NUM> updated with <NUM> items",
        "Payment gateway timeout after <NUM> ms for order <NUM>",
    }
    assert templates["Cart <NUM> updated with <NUM> items"]["count"] == 44 * 5 + 200
    assert templates["Payment gateway timeout after <NUM> ms for order <NUM>"]["first_seen"] == new_at

    # A restarted miner reloads its state from the store: same template id, nothing new.
    cart_id = templates["Cart <NUM> updated with <NUM> items"]["template_id"]
    after = lo + 50 * 60
    write_logs(chdb_store, SERVICE, [(after * NS, "INFO", "Cart 12 updated with 3 items")])
    counts = LogPatterns(chdb_store, DEFAULT_PARAMS).mine_minute(after)
    assert [(c.template_id, c.new, c.count) for c in counts if c.service == SERVICE] == [(cart_id, False, 1)]


def test_statements_with_the_same_words_are_counted_apart(chdb_store: Store) -> None:
    # Two statements of one method log the same words; Drain alone folds them into one template.
    # The line's `Class#line` header, or OTel's code.* attributes, keep each statement its own.
    service = "drain-booking"
    m = minute(41, 9, 0)
    lines = []
    for i in range(6):
        lines.append(
            (m * NS + i * NS, "INFO", f"09:00:0{i}.100 INFO  b.s.BookingServiceImpl#40 price computed: {400 + i}")
        )
    for i in range(4):
        lines.append(
            (m * NS + i * NS, "INFO", f"09:00:0{i}.200 INFO  b.s.BookingServiceImpl#46 price computed: {600 + i}")
        )
    write_logs(chdb_store, service, lines)
    chdb_store.insert_arrow(
        "otel_logs",
        pa.table(
            {
                "Timestamp": pa.array([m * NS + i * NS for i in range(5)], pa.timestamp("ns")),
                "ServiceName": [service] * 5,
                "SeverityText": ["INFO"] * 5,
                "Body": [f"quote ready in {i} ms" for i in range(5)],
                "LogAttributes": pa.array(
                    [[("code.filepath", "app/quote.py"), ("code.lineno", "12" if i < 3 else "20")] for i in range(5)],
                    pa.map_(pa.string(), pa.string()),
                ),
            }
        ),
    )

    counts = LogPatterns(chdb_store, DEFAULT_PARAMS).mine_minute(m)

    mine = {c.template: c.count for c in counts if c.service == service}
    assert mine == {
        "<NUM>:<NUM>:<NUM> INFO b.s.BookingServiceImpl#40 price computed: <NUM>": 6,
        "<NUM>:<NUM>:<NUM> INFO b.s.BookingServiceImpl#46 price computed: <NUM>": 4,
        "[app/quote.py:12] quote ready in <NUM> ms": 3,
        "[app/quote.py:20] quote ready in <NUM> ms": 2,
    }
    ids = {c.template: c.template_id for c in counts if c.service == service}
    assert len(set(ids.values())) == 4

    # Each statement's pattern reads back its own lines and not its twin's, whether the location
    # is in the body's header or in the record's attributes.
    client = api_client(chdb_store, router)
    window = {"service": service, "start": str(m * NS), "end": str((m + 60) * NS)}
    for template, count in mine.items():
        answer = client.get("/api/v1/logs", params={**window, "pattern": ids[template]}).json()
        assert answer["pattern"] == {"template_id": ids[template], "template": template}
        bodies = [line["body"] for line in answer["logs"]]
        assert len(bodies) == count, (template, bodies)
        if "#" in template:
            assert all(template.split()[2] in body for body in bodies)
        else:
            line_number = template.split("]")[0].rsplit(":", 1)[1]
            assert {line["attributes"]["code.lineno"] for line in answer["logs"]} == {line_number}


def test_the_api_lists_a_services_patterns_most_lines_first_with_lines_per_step(chdb_store: Store) -> None:
    service = "drain-api"
    lo = minute(42, 9, 0)
    rng = random.Random(3)
    lines = []
    for k in range(10):
        lines += [(lo * NS + k * 60 * NS + i, "INFO", f"Cart {rng.randint(1, 99)} updated") for i in range(k + 1)]
        if k >= 7:
            lines.append(((lo + k * 60) * NS, "ERROR", f"Payment gateway timeout after {rng.randint(1, 999)} ms"))
    write_logs(chdb_store, service, lines)
    miner = LogPatterns(chdb_store, DEFAULT_PARAMS)
    for k in range(10):
        miner.mine_minute(lo + k * 60)

    client = api_client(chdb_store, router)
    window = {"service": service, "start": str(lo * NS), "end": str((lo + 600) * NS), "points": 5}
    body = client.get("/api/v1/logs/patterns", params=window).json()

    assert body["step_s"] == 120
    assert [(p["template"], p["count"], p["new"]) for p in body["patterns"]] == [
        ("Cart <NUM> updated", 55, True),
        ("Payment gateway timeout after <NUM> ms", 3, True),
    ]
    assert body["patterns"][0]["series"] == [1 + 2, 3 + 4, 5 + 6, 7 + 8, 9 + 10]
    assert body["patterns"][1]["series"] == [0, 0, 0, 1, 2]
    # Seen before the window: not new.
    later = client.get("/api/v1/logs/patterns", params={**window, "start": str((lo + 480) * NS)}).json()
    assert [p["new"] for p in later["patterns"]] == [False, False]
    # Minutes after the last mined one are unknown, not quiet.
    ahead = client.get("/api/v1/logs/patterns", params={**window, "end": str((lo + 900) * NS)}).json()
    assert ahead["step_s"] == 180 and ahead["patterns"][1]["series"] == [0, 0, 2, 1, None]
    assert client.get("/api/v1/logs/patterns", params={**window, "limit": 0}).status_code == 400

    # A pattern's lines, newest first; the other template's lines are not among them.
    cart = body["patterns"][0]["template_id"]
    lines = client.get("/api/v1/logs", params={**window, "pattern": cart, "limit": 1000}).json()["logs"]
    assert len(lines) == 55 and all(re.fullmatch(r"Cart \d+ updated", line["body"]) for line in lines)
    times = [line["time_unix_nano"] for line in lines]
    assert times == sorted(times, reverse=True)
    payment = body["patterns"][1]["template_id"]
    errors = client.get("/api/v1/logs", params={**window, "pattern": payment, "q": "timeout"}).json()["logs"]
    assert len(errors) == 3
    # A template id means nothing without its service, and an unknown one is said to be unknown.
    no_service = client.get("/api/v1/logs", params={"pattern": cart})
    assert no_service.status_code == 400 and "needs service" in no_service.json()["error"]
    unknown = client.get("/api/v1/logs", params={**window, "pattern": "T999"})
    assert unknown.status_code == 404 and "T999" in unknown.json()["error"]


def test_patterns_sorted_by_change_put_what_stopped_or_surged_first(chdb_store: Store) -> None:
    service = "drain-change"
    lo = minute(43, 9, 0)
    lines = []
    for k in range(10):
        at = (lo + k * 60) * NS
        lines += [(at + i, "INFO", f"Cart {i} updated") for i in range(20)]  # steady
        if k < 5:
            lines += [(at + 100 + i, "INFO", f"Session {i} refreshed") for i in range(6)]  # then stops
        else:
            lines += [(at + 200 + i, "WARN", f"Retrying call {i} to stock") for i in range(3 * (k - 4))]
    write_logs(chdb_store, service, lines)
    miner = LogPatterns(chdb_store, DEFAULT_PARAMS)
    for k in range(10):
        miner.mine_minute(lo + k * 60)
    client = api_client(chdb_store, router)
    window = {"service": service, "start": str((lo + 300) * NS), "end": str((lo + 600) * NS)}

    by_count = client.get("/api/v1/logs/patterns", params=window).json()
    assert by_count["before_s"] == [lo, lo + 300]
    assert [(p["template"], p["count"], p["before"]) for p in by_count["patterns"]] == [
        ("Cart <NUM> updated", 100, 100),
        ("Retrying call <NUM> to stock", 45, 0),
    ]
    by_change = client.get("/api/v1/logs/patterns", params={**window, "sort": "change"}).json()
    assert [(p["template"], p["count"], p["before"]) for p in by_change["patterns"]] == [
        ("Retrying call <NUM> to stock", 45, 0),
        ("Session <NUM> refreshed", 0, 30),
        ("Cart <NUM> updated", 100, 100),
    ]
    assert by_change["patterns"][1]["series"] == [0, 0, 0, 0, 0]
    # A range that starts mid-minute: the steps after the last mined minute are unknown.
    ahead = {**window, "start": str((lo + 330) * NS), "end": str((lo + 900) * NS), "points": 10}
    cart = client.get("/api/v1/logs/patterns", params=ahead).json()["patterns"][0]
    assert cart["template"] == "Cart <NUM> updated" and cart["series"] == [20] * 4 + [None] * 6
    assert client.get("/api/v1/logs/patterns", params={**window, "sort": "size"}).status_code == 400


def test_a_ranked_causes_template_finds_the_stored_pattern_that_covers_it(chdb_store: Store) -> None:
    service, m = "cover-shop", minute(64, 10, 0)
    rows = [
        ("T1", "Payment failed for card <*> code <NUM>", 40),
        ("T2", "Payment failed for card <*> code <*>", 90),  # covers as well, less specific
        ("T3", "Payment refused for card <*> code <NUM>", 500),  # another word
        ("T4", "Payment failed for card <*>", 70),  # fewer words
        ("T5", "Report " + " ".join(f"f{i}=<NUM>" for i in range(60)), 3),
    ]
    chdb_store.command(
        "INSERT INTO kokanee_log_templates (Minute, ServiceName, TemplateId, Template, Count, FirstSeen) VALUES "
        + ", ".join(f"(toDateTime({m}), '{service}', '{t}', '{text}', {n}, toDateTime({m}))" for t, text, n in rows)
    )
    hour = (m - 1800, m + 1800)
    assert covering_pattern(chdb_store, service, "Payment failed for card visa code <NUM>", *hour) == "T1"
    assert covering_pattern(chdb_store, service, "Payment failed for card <*> code <*>", *hour) == "T2"
    assert covering_pattern(chdb_store, service, "Payment declined for card visa code <NUM>", *hour) is None
    assert covering_pattern(chdb_store, "another-shop", "Payment failed for card visa code <NUM>", *hour) is None
    assert covering_pattern(chdb_store, service, "Payment failed for card visa code <NUM>", m + 3600, m + 7200) is None
    # A long line's head, cut inside a word: its whole words are compared.
    head = ("Report " + " ".join(f"f{i}=<NUM>" for i in range(60)))[:300]
    assert covering_pattern(chdb_store, service, head[:-2], *hour) == "T5"
