"""The simulated shop through the real OpenTelemetry SDK: topology, span kinds, propagation, conventions."""

from __future__ import annotations

from collections import Counter

from opentelemetry.trace import StatusCode

from kokanee.demo.topology import SERVICES
from tests.test_demo_helpers import recorded


def test_every_service_sends_spans_and_logs() -> None:
    rec = recorded()
    assert {rec.service(s) for s in rec.spans} == set(SERVICES)
    assert {str(r.resource.attributes["service.name"]) for r in rec.logs} >= set(SERVICES) - {
        "load-generator",
        "image-provider",
        "currency",
        "product-catalog",
    }
    assert rec.stats.spans == len(rec.spans)


def test_each_service_has_its_own_resource() -> None:
    rec = recorded()
    for span in rec.spans:
        attrs = span.resource.attributes
        assert attrs["service.namespace"] == "opentelemetry-demo"
        assert attrs["service.version"] and attrs["deployment.environment.name"] == "demo"
        assert str(attrs["service.instance.id"]).startswith(str(attrs["service.name"]))


def test_server_spans_are_children_of_client_spans_in_the_caller() -> None:
    rec = recorded()
    by_id = rec.by_id()
    servers = rec.select(kind="SERVER")
    assert servers
    for server in servers:
        assert server.parent is not None and server.parent.is_remote, "context arrived through the propagator"
        client = by_id[server.parent.span_id]
        assert client.kind.name == "CLIENT"
        assert client.context.trace_id == server.context.trace_id
        assert rec.service(client) != rec.service(server)
        assert client.attributes is not None and client.attributes["server.address"] == rec.service(server)
        # The client waits for the server: its span encloses the server's.
        assert client.start_time is not None and server.start_time is not None
        assert client.start_time < server.start_time and server.end_time <= client.end_time  # type: ignore[operator]


def test_call_relationships_match_the_shop() -> None:
    rec = recorded()
    by_id = rec.by_id()
    edges = {
        (rec.service(by_id[s.parent.span_id]), rec.service(s))
        for s in rec.select(kind="SERVER")
        if s.parent is not None
    }
    expected = {
        ("load-generator", "frontend-proxy"),
        ("frontend-proxy", "frontend"),
        ("frontend-proxy", "image-provider"),
        ("frontend", "ad"),
        ("frontend", "cart"),
        ("frontend", "checkout"),
        ("frontend", "currency"),
        ("frontend", "product-catalog"),
        ("frontend", "recommendation"),
        ("checkout", "cart"),
        ("checkout", "currency"),
        ("checkout", "email"),
        ("checkout", "payment"),
        ("checkout", "product-catalog"),
        ("checkout", "shipping"),
        ("shipping", "quote"),
        ("recommendation", "product-catalog"),
    }
    assert expected <= edges
    db = {
        (rec.service(s), str((s.attributes or {})["db.system.name"]))
        for s in rec.spans
        if "db.system.name" in (s.attributes or {})
    }
    assert db == {("product-catalog", "postgresql"), ("cart", "redis"), ("accounting", "postgresql")}


def test_kafka_consumers_are_children_of_the_producer_with_a_link() -> None:
    rec = recorded()
    by_id = rec.by_id()
    producers = rec.select(service="checkout", kind="PRODUCER")
    consumers = rec.select(kind="CONSUMER")
    assert producers and len(consumers) == 2 * len(producers)
    assert {rec.service(c) for c in consumers} == {"accounting", "fraud-detection"}
    for consumer in consumers:
        assert consumer.parent is not None
        producer = by_id[consumer.parent.span_id]
        assert producer.kind.name == "PRODUCER" and producer.name == "send orders"
        assert [link.context.span_id for link in consumer.links] == [producer.context.span_id]
        attrs = consumer.attributes or {}
        assert attrs["messaging.system"] == "kafka" and attrs["messaging.destination.name"] == "orders"
        assert attrs["messaging.operation.type"] == "process"
        assert attrs["messaging.consumer.group.name"] == rec.service(consumer)
        assert consumer.start_time >= producer.end_time  # type: ignore[operator]


def test_current_semantic_conventions() -> None:
    rec = recorded()
    http_server = rec.select(service="frontend", kind="SERVER")[0].attributes or {}
    assert {"http.request.method", "http.route", "http.response.status_code", "url.path"} <= set(http_server)
    grpc_client = rec.select(service="checkout", kind="CLIENT", name="oteldemo.PaymentService/Charge")[0]
    attrs = grpc_client.attributes or {}
    assert attrs["rpc.system"] == "grpc" and attrs["rpc.service"] == "oteldemo.PaymentService"
    assert attrs["rpc.method"] == "Charge" and attrs["server.address"] == "payment"
    sql = next(s for s in rec.select(service="product-catalog", kind="CLIENT"))
    sql_attrs = sql.attributes or {}
    assert sql_attrs["db.system.name"] == "postgresql" and sql_attrs["db.namespace"] == "otel"
    assert str(sql_attrs["db.query.text"]).startswith("SELECT") and sql.name == "SELECT products"
    # No old-style names.
    names = {k for s in rec.spans for k in (s.attributes or {})}
    assert not names & {
        "http.method",
        "http.status_code",
        "db.system",
        "db.statement",
        "messaging.destination",
    }


def test_logs_carry_the_trace_and_span_of_their_request() -> None:
    rec = recorded()
    spans = {(s.context.trace_id, s.context.span_id): s for s in rec.spans}
    for log in rec.logs:
        record = log.log_record
        span = spans[(record.trace_id, record.span_id)]  # type: ignore[index]
        assert span.resource.attributes["service.name"] == log.resource.attributes["service.name"]
        assert span.start_time <= record.timestamp <= span.end_time  # type: ignore[operator]
    severities = Counter(log.log_record.severity_text for log in rec.logs)
    assert severities["INFO"] > 0.9 * len(rec.logs)


def test_metrics_cover_red_and_resources() -> None:
    rec = recorded()
    http = {svc for svc, _ in rec.metrics["http.server.request.duration"]}
    rpc = {svc for svc, _ in rec.metrics["rpc.server.duration"]}
    assert {"frontend", "frontend-proxy", "shipping", "email"} <= http
    assert {"checkout", "payment", "cart", "product-catalog"} <= rpc
    assert {svc for svc, _ in rec.metrics["process.cpu.utilization"]} == set(SERVICES)
    assert {svc for svc, _ in rec.metrics["process.memory.usage"]} == set(SERVICES)
    assert {svc for svc, _ in rec.metrics["kafka.consumer_group.lag"]} == {"accounting", "fraud-detection"}
    ratios = {p.attributes["cache.name"]: p.value for _, p in rec.metrics["cache.hit_ratio"]}
    assert set(ratios) == {"valkey-cart", "recommendation-product-cache"} and all(0 < r <= 1 for r in ratios.values())
    # Histogram counts equal the server spans they measure.
    frontend_count = sum(p.count for svc, p in rec.metrics["http.server.request.duration"] if svc == "frontend")
    assert frontend_count == len(rec.select(service="frontend", kind="SERVER"))


def test_no_errors_without_faults() -> None:
    rec = recorded()
    assert rec.stats.errors == 0
    assert not [s for s in rec.spans if s.status.status_code is StatusCode.ERROR]


def test_same_seed_same_run() -> None:
    a, b = recorded(seed=11, duration_s=20.0), recorded.__wrapped__(seed=11, duration_s=20.0)
    key = [(s.name, s.context.trace_id, s.context.span_id, s.end_time - s.start_time) for s in a.spans]  # type: ignore[operator]
    assert key == [(s.name, s.context.trace_id, s.context.span_id, s.end_time - s.start_time) for s in b.spans]  # type: ignore[operator]
    other = recorded(seed=12, duration_s=20.0)
    assert [s.name for s in other.spans] != [s.name for s in a.spans]


def test_latencies_are_long_tailed() -> None:
    rec = recorded()
    durations = sorted(s.end_time - s.start_time for s in rec.select(service="frontend", kind="SERVER"))  # type: ignore[operator]
    p50, p99 = durations[len(durations) // 2], durations[int(len(durations) * 0.99)]
    assert p99 > 3 * p50
