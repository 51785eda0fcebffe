"""Each fault's effect is in the telemetry, and its ground truth is in the labels."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import httpx
import pytest
from opentelemetry.trace import StatusCode

from kokanee.demo import control
from kokanee.demo.faults import FaultBoard
from kokanee.demo.labels import read_labels
from kokanee.demo.schedule import Schedule, parse_duration, parse_fault
from tests.test_demo_helpers import Recorded, record, recorded


def _durations(rec: Recorded, service: str, kind: str, name: str | None = None) -> list[int]:
    return [s.end_time - s.start_time for s in rec.select(service, kind, name)]  # type: ignore[operator]


def test_payment_failure_errors_travel_from_payment_to_checkout() -> None:
    rec = recorded(("payment_failure=1@+0s",))
    by_id = rec.by_id()
    failed = [s for s in rec.select("payment", "SERVER") if s.status.status_code is StatusCode.ERROR]
    assert failed and len(failed) == len(rec.select("payment", "SERVER"))
    for payment in failed:
        assert [e.name for e in payment.events] == ["exception"]
        assert "Invalid token" in str((payment.events[0].attributes or {})["exception.message"])
        client = by_id[payment.parent.span_id]  # type: ignore[union-attr]
        assert rec.service(client) == "checkout" and client.status.status_code is StatusCode.ERROR
        checkout = by_id[client.parent.span_id]  # type: ignore[union-attr]
        assert checkout.kind.name == "SERVER" and checkout.status.status_code is StatusCode.ERROR
        assert "failed to charge card" in str(checkout.status.description)
    # No order goes to Kafka when every charge fails.
    assert not rec.select(kind="PRODUCER")
    assert any(
        r.log_record.severity_text == "ERROR" for r in rec.logs if r.resource.attributes["service.name"] == "payment"
    )


def test_network_delay_grows_callers_client_spans_not_the_servers() -> None:
    base, delayed = recorded(), recorded(("network_delay/cart=300@+0s",))
    # Same seed: the same calls in the same order, so durations compare pairwise.
    client = [
        b - a
        for a, b in zip(
            _durations(base, "frontend", "CLIENT", "oteldemo.CartService/GetCart"),
            _durations(delayed, "frontend", "CLIENT", "oteldemo.CartService/GetCart"),
            strict=True,
        )
    ]
    assert client and all(abs(d - 300_000_000) < 1_000 for d in client)
    assert _durations(base, "cart", "SERVER") == _durations(delayed, "cart", "SERVER")


def test_cpu_contention_grows_the_services_own_time() -> None:
    base, slow = recorded(), recorded(("cpu_contention/currency=4@+0s",))
    before, after = _durations(base, "currency", "SERVER"), _durations(slow, "currency", "SERVER")
    assert statistics.median(after) > 3 * statistics.median(before)
    # Its callers' client spans grow by the same amount, nothing else in them changes.
    assert _durations(base, "cart", "SERVER") == _durations(slow, "cart", "SERVER")


def test_product_catalog_failure_breaks_one_product_only() -> None:
    rec = recorded(("product_catalog_failure@+0s",))
    errors = [s for s in rec.select("product-catalog", "SERVER") if s.status.status_code is StatusCode.ERROR]
    assert errors and {(s.attributes or {})["app.product.id"] for s in errors} == {"OLJCESPC7Z"}
    ok = [
        s
        for s in rec.select("product-catalog", "SERVER", "oteldemo.ProductCatalogService/GetProduct")
        if (s.attributes or {})["app.product.id"] == "OLJCESPC7Z" and s.status.status_code is not StatusCode.ERROR
    ]
    assert not ok


def test_cart_failure_fails_empty_cart_at_the_bad_host() -> None:
    rec = recorded(("cart_failure@+0s",))
    empty = rec.select("cart", "SERVER", "oteldemo.CartService/EmptyCart")
    assert empty and all(s.status.status_code is StatusCode.ERROR for s in empty)
    bad = [s for s in rec.select("cart", "CLIENT") if (s.attributes or {}).get("server.address") == "badhost"]
    assert len(bad) == len(empty) and all(s.status.status_code is StatusCode.ERROR for s in bad)


def test_ad_high_cpu_slows_ads_and_burns_cpu() -> None:
    base, hot = recorded(), recorded(("ad_high_cpu@+0s",))
    assert statistics.median(_durations(hot, "ad", "SERVER")) > 2 * statistics.median(_durations(base, "ad", "SERVER"))
    cpu = {svc: p.value for svc, p in hot.metrics["process.cpu.utilization"]}
    assert cpu["ad"] > 0.7 > cpu["cart"]


def test_recommendation_cache_failure_leaks_and_slows_down_over_time() -> None:
    base, leak = recorded(), recorded(("recommendation_cache_failure@+0s",))
    spans = leak.select("recommendation", "SERVER")
    first, last = spans[: len(spans) // 3], spans[-len(spans) // 3 :]
    assert statistics.median(s.end_time - s.start_time for s in last) > statistics.median(  # type: ignore[operator]
        s.end_time - s.start_time
        for s in first  # type: ignore[operator]
    )
    memory = lambda rec: {svc: p.value for svc, p in rec.metrics["process.memory.usage"]}["recommendation"]  # noqa: E731
    assert memory(leak) > memory(base) + 20 * 1024 * 1024
    ratio = lambda rec: {p.attributes["cache.name"]: p.value for _, p in rec.metrics["cache.hit_ratio"]}  # noqa: E731
    assert ratio(leak)["recommendation-product-cache"] < ratio(base)["recommendation-product-cache"]


def test_kafka_queue_problems_delay_consumers_and_grow_lag() -> None:
    base, lagging = recorded(), recorded(("kafka_queue_problems=120@+0s",))

    def delays(rec: Recorded) -> list[int]:
        by_id = rec.by_id()
        return [c.start_time - by_id[c.parent.span_id].end_time for c in rec.select("accounting", "CONSUMER")]  # type: ignore[operator,union-attr]

    assert max(delays(lagging)) > 30e9 > max(delays(base))
    lag = {svc: p.value for svc, p in lagging.metrics["kafka.consumer_group.lag"]}
    assert lag["accounting"] > {svc: p.value for svc, p in base.metrics["kafka.consumer_group.lag"]}["accounting"]


def test_image_slow_load_and_homepage_flood() -> None:
    base, slow = recorded(), recorded(("image_slow_load=2000@+0s", "homepage_flood=3@+0s"))
    assert min(_durations(slow, "image-provider", "SERVER")) >= 2e9
    assert max(_durations(base, "image-provider", "SERVER")) < 1e9
    home = lambda rec: len(rec.select("frontend", "SERVER", "GET /"))  # noqa: E731
    assert home(slow) > 3 * home(base)


def test_scheduled_fault_applies_only_in_its_window_and_is_labelled(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    rec = record(("payment_failure=1@+20s:20s",), labels_file=labels)
    origin = rec.run.origin_ns
    for span in rec.select("payment", "SERVER"):
        inside = origin + 20e9 <= span.start_time < origin + 40e9  # type: ignore[operator]
        assert (span.status.status_code is StatusCode.ERROR) == inside
    lines = [json.loads(line) for line in labels.read_text().splitlines()]
    assert [line["end"] for line in lines] == [None, origin + 40_000_000_000]
    assert read_labels(labels) == [
        {
            "start": origin + 20_000_000_000,
            "end": origin + 40_000_000_000,
            "service": "payment",
            "kind": "payment_failure",
            "source": "demo",
            "detail": lines[0]["detail"],
        },
    ]
    assert "run=test-7" in lines[0]["detail"]


def test_faults_still_running_end_with_the_demo() -> None:
    rec = record(("cpu_contention/quote@+10s",), duration_s=20.0)
    assert rec.run.labels.written[-1]["end"] == rec.run.end_ns


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("payment_failure@+5m:10m", ("payment_failure", "payment", 0.5, 300.0, 600.0)),
        ("network_delay/cart=400@+1m:2m", ("network_delay", "cart", 400.0, 60.0, 120.0)),
        ("ad_high_cpu", ("ad_high_cpu", "ad", 4.0, 0.0, None)),
        ("cpu_contention/currency@90:1m30s", ("cpu_contention", "currency", 4.0, 90.0, 90.0)),
    ],
)
def test_parse_fault(spec: str, expected: tuple[object, ...]) -> None:
    f = parse_fault(spec)
    assert (f.kind, f.service, f.value, f.start_s, f.duration_s) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope@+1m", "unknown fault kind 'nope'"),
        ("payment_failure/cart", "always targets payment"),
        ("network_delay/warehouse", "unknown service 'warehouse'"),
        ("payment_failure@soon", "'soon' is not a duration"),
        ("payment failure", "expected KIND"),
    ],
)
def test_parse_fault_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


def test_parse_duration() -> None:
    assert parse_duration("250ms") == 0.25 and parse_duration("1h") == 3600 and parse_duration("90") == 90


def test_schedule_records_a_fault_shorter_than_a_tick() -> None:
    changes = []
    board = FaultBoard(changes.append)
    Schedule([parse_fault("ad_high_cpu@+1s:1s")], origin_ns=0).tick(board, 10_000_000_000)
    assert [(c.start_ns, c.end_ns) for c in changes] == [
        (1_000_000_000, None),
        (1_000_000_000, 2_000_000_000),
    ]
    assert not board.active()


def test_control_api_switches_faults_on_and_off() -> None:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from kokanee.demo.runner import DemoConfig, DemoRun
    from kokanee.demo.telemetry import Exporters

    config = DemoConfig(duration_s=5, realtime=False, control_port=0, run_id="control")
    run = DemoRun(config, Exporters(InMemorySpanExporter(), InMemoryLogRecordExporter(), InMemoryMetricReader, False))
    assert run.control is not None
    try:
        url = run.control.url
        on = control.fault_on(url, "network_delay", "shipping", 100)
        assert on["fault"]["service"] == "shipping" and on["fault"]["source"] == "manual"
        listed = control.list_faults(url)
        assert [f["kind"] for f in listed["active"]] == ["network_delay"] and "payment_failure" in listed["kinds"]
        with pytest.raises(control.ControlError, match="always targets payment"):
            control.fault_on(url, "payment_failure", "cart")
        off = control.fault_off(url, "network_delay")
        assert [f["service"] for f in off["stopped"]] == ["shipping"]
        assert httpx.get(f"{url}/nothing").status_code == 404
        assert [(label["kind"], label["end"] is None) for label in run.labels.written] == [
            ("network_delay", True),
            ("network_delay", False),
        ]
    finally:
        run.control.close()
        run.telemetry.shutdown()
