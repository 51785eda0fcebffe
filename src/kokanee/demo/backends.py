"""Calls to the shop's backing systems, which have no telemetry of their own: PostgreSQL, Valkey, Kafka.

Databases appear only as CLIENT spans with `db.*` and `server.address` attributes (a service map draws
them as virtual nodes). Kafka is a PRODUCER span in the sender and, per consumer group, a CONSUMER span
whose parent is the producer's context, extracted from the message headers, with a link to it as the
messaging conventions describe for single-message processing.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.trace import Link, SpanKind, Status, StatusCode, get_current_span, set_span_in_context
from opentelemetry.util.types import AttributeValue

from kokanee.demo.engine import PROPAGATOR, Attrs, Call, Handler, ShopError
from kokanee.demo.topology import (
    KAFKA_HOST,
    KAFKA_PORT,
    POSTGRES_DB,
    POSTGRES_HOST,
    POSTGRES_PORT,
    VALKEY_HOST,
    VALKEY_PORT,
)


class DbError(ShopError):
    grpc_code = "UNAVAILABLE"


def _client_span(call: Call, name: str, attrs: Attrs, ms: float, error: ShopError | None) -> None:
    span = call._start(name, SpanKind.CLIENT, attrs, call.ctx)
    call.wait(0.15 + call.sim.sample_ms(ms))
    if error is not None:
        span.set_attribute("error.type", type(error).__name__)
        span.record_exception(error, timestamp=call.t)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end(end_time=call.t)
    if error is not None:
        raise error


def postgres(call: Call, operation: str, table: str, query: str, ms: float = 1.2) -> None:
    """One PostgreSQL statement: span named `{operation} {table}` as the database conventions say."""
    attrs: dict[str, AttributeValue] = {
        "db.system.name": "postgresql",
        "db.namespace": POSTGRES_DB,
        "db.operation.name": operation,
        "db.collection.name": table,
        "db.query.text": query,
        "server.address": POSTGRES_HOST,
        "server.port": POSTGRES_PORT,
    }
    _client_span(call, f"{operation} {table}", attrs, ms, None)


def valkey(
    call: Call,
    command: str,
    key: str,
    ms: float = 0.3,
    host: str = VALKEY_HOST,
    error: ShopError | None = None,
) -> None:
    """One Valkey command, spoken with the Redis protocol (hence db.system.name "redis")."""
    attrs: dict[str, AttributeValue] = {
        "db.system.name": "redis",
        "db.namespace": "0",
        "db.operation.name": command,
        "db.query.text": f"{command} {key} ?",
        "server.address": host,
        "server.port": VALKEY_PORT,
    }
    _client_span(call, command, attrs, ms, error)


def kafka_produce(
    call: Call, topic: str, key: str, consumers: Mapping[str, Handler], lag_s: Mapping[str, float]
) -> None:
    """Sends one message on `topic` and has each consumer group process it after its lag (seconds)."""
    common: dict[str, AttributeValue] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "server.address": KAFKA_HOST,
        "server.port": KAFKA_PORT,
        "messaging.kafka.message.key": key,
        "messaging.destination.partition.id": str(call.rng.randrange(3)),
    }
    producer = call._start(
        f"send {topic}",
        SpanKind.PRODUCER,
        {
            **common,
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.client.id": f"{call.service}-producer",
        },
        call.ctx,
    )
    headers: dict[str, str] = {}
    PROPAGATOR.inject(headers, context=set_span_in_context(producer, call.ctx))
    call.wait(0.5 + call.sim.sample_ms(1.5))  # until the broker acknowledges
    producer.end(end_time=call.t)
    offset = call.sim.stats.spans  # monotonic and reproducible, like a partition offset
    for group, handler in consumers.items():
        ctx = PROPAGATOR.extract(headers)
        poll_ms = 2.0 + call.rng.expovariate(1 / 15.0)
        consumer = Call(call.sim, group, ctx, call.t + int((poll_ms + lag_s.get(group, 0.0) * 1000) * 1e6))
        attrs: dict[str, AttributeValue] = {
            **common,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.consumer.group.name": group,
            "messaging.kafka.offset": offset,
            "messaging.client.id": f"{group}-consumer",
        }
        link = Link(get_current_span(ctx).get_span_context(), {"messaging.operation.type": "send"})
        consumer.serve(f"process {topic}", attrs, handler, kind=SpanKind.CONSUMER, links=[link])
