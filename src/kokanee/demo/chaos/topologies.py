"""Call graphs for the chaos suite: the demo shop's, and generated ones.

A topology is a set of services, each with operations; an operation does some own work and calls
on: other services' operations (RPC, sequential or in parallel), its databases (client spans to an
uninstrumented system), or a queue whose consumer handles the message later in the same trace.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kokanee.demo.topology import BASE_WORK_MS


@dataclass(frozen=True)
class Step:
    """One thing an operation does after its first slice of own work."""

    kind: str  # "rpc" | "db" | "queue"
    target: str  # service (rpc, queue consumer) or database name (db)
    operation: str  # callee operation, or the statement's table for db
    probability: float = 1.0
    parallel: bool = False  # runs alongside the previous parallel step
    db_ms: float = 2.0  # typical time of a db statement


@dataclass
class Operation:
    name: str
    work_ms: float
    steps: list[Step] = field(default_factory=list)


@dataclass
class Topology:
    name: str
    services: dict[str, dict[str, Operation]]  # service -> operation name -> operation
    entries: list[tuple[str, str, float]]  # (service, operation, weight) the load generator calls
    databases: dict[str, str] = field(default_factory=dict)  # database -> the service that owns it
    jvm: set[str] = field(default_factory=set)  # services with a garbage collector that pauses

    def callers_of(self, service: str) -> set[str]:
        return {s for s, ops in self.services.items() for op in ops.values() for st in op.steps if st.target == service}

    def callees_of(self, service: str) -> set[str]:
        return {st.target for op in self.services[service].values() for st in op.steps if st.kind != "db"}


def _op(name: str, work_ms: float, *steps: Step) -> Operation:
    return Operation(name, work_ms, list(steps))


def shop() -> Topology:
    """The demo shop's main paths (names and own work times from `kokanee.demo.topology`)."""
    w = BASE_WORK_MS
    rpc, db, q = "rpc", "db", "queue"
    services: dict[str, dict[str, Operation]] = {
        "frontend-proxy": {
            "GET /": _op("GET /", w["frontend-proxy"], Step(rpc, "frontend", "GET /")),
            "GET /api/products": _op(
                "GET /api/products", w["frontend-proxy"], Step(rpc, "frontend", "GET /api/products")
            ),
            "POST /api/checkout": _op(
                "POST /api/checkout", w["frontend-proxy"], Step(rpc, "frontend", "POST /api/checkout")
            ),
            "POST /api/cart": _op("POST /api/cart", w["frontend-proxy"], Step(rpc, "frontend", "POST /api/cart")),
        },
        "frontend": {
            "GET /": _op(
                "GET /",
                w["frontend"],
                Step(rpc, "product-catalog", "ListProducts", parallel=True),
                Step(rpc, "currency", "GetSupportedCurrencies", parallel=True),
                Step(rpc, "ad", "GetAds", 0.8, parallel=True),
                Step(rpc, "image-provider", "GET /images", 0.9),
            ),
            "GET /api/products": _op(
                "GET /api/products",
                w["frontend"],
                Step(rpc, "product-catalog", "GetProduct"),
                Step(rpc, "currency", "Convert"),
                Step(rpc, "recommendation", "ListRecommendations", 0.9),
            ),
            "POST /api/cart": _op(
                "POST /api/cart",
                w["frontend"],
                Step(rpc, "cart", "AddItem"),
                Step(rpc, "product-catalog", "GetProduct"),
            ),
            "POST /api/checkout": _op(
                "POST /api/checkout",
                w["frontend"],
                Step(rpc, "checkout", "PlaceOrder"),
                Step(rpc, "currency", "Convert"),
            ),
        },
        "product-catalog": {
            "ListProducts": _op("ListProducts", w["product-catalog"], Step(db, "postgresql", "products", db_ms=3.0)),
            "GetProduct": _op("GetProduct", w["product-catalog"], Step(db, "postgresql", "products", db_ms=1.5)),
        },
        "currency": {
            "GetSupportedCurrencies": _op("GetSupportedCurrencies", w["currency"]),
            "Convert": _op("Convert", w["currency"]),
        },
        "ad": {"GetAds": _op("GetAds", w["ad"])},
        "image-provider": {"GET /images": _op("GET /images", w["image-provider"])},
        "recommendation": {
            "ListRecommendations": _op(
                "ListRecommendations", w["recommendation"], Step(rpc, "product-catalog", "ListProducts")
            )
        },
        "cart": {
            "AddItem": _op("AddItem", w["cart"], Step(db, "valkey-cart", "cart", db_ms=0.5)),
            "GetCart": _op("GetCart", w["cart"], Step(db, "valkey-cart", "cart", db_ms=0.4)),
            "EmptyCart": _op("EmptyCart", w["cart"], Step(db, "valkey-cart", "cart", db_ms=0.4)),
        },
        "checkout": {
            "PlaceOrder": _op(
                "PlaceOrder",
                w["checkout"],
                Step(rpc, "cart", "GetCart"),
                Step(rpc, "product-catalog", "GetProduct"),
                Step(rpc, "currency", "Convert"),
                Step(rpc, "shipping", "POST /get-quote"),
                Step(rpc, "payment", "Charge"),
                Step(rpc, "shipping", "POST /ship-order"),
                Step(rpc, "cart", "EmptyCart"),
                Step(rpc, "email", "POST /send_order_confirmation"),
                Step(q, "accounting", "orders"),
                Step(q, "fraud-detection", "orders"),
            )
        },
        "shipping": {
            "POST /get-quote": _op("POST /get-quote", w["shipping"], Step(rpc, "quote", "POST /getquote")),
            "POST /ship-order": _op("POST /ship-order", w["shipping"]),
        },
        "quote": {"POST /getquote": _op("POST /getquote", w["quote"])},
        "payment": {"Charge": _op("Charge", w["payment"])},
        "email": {"POST /send_order_confirmation": _op("POST /send_order_confirmation", w["email"])},
        "accounting": {"orders": _op("orders", w["accounting"], Step(db, "postgresql", "orders", db_ms=4.0))},
        "fraud-detection": {"orders": _op("orders", w["fraud-detection"])},
    }
    entries = [
        ("frontend-proxy", "GET /", 4.0),
        ("frontend-proxy", "GET /api/products", 5.0),
        ("frontend-proxy", "POST /api/cart", 2.0),
        ("frontend-proxy", "POST /api/checkout", 1.0),
    ]
    databases = {"postgresql": "product-catalog", "valkey-cart": "cart"}
    return Topology("shop", services, entries, databases, jvm={"ad", "fraud-detection", "accounting"})


_WORDS = tuple(
    " ".join(
        (
            "auth order user stock price route seat ticket pay notify search config travel food station",
            "contact insure assure basic admin rebook cancel consign voucher news delivery report audit",
            "billing profile session catalog inventory review rating media coupon loyalty tax invoice",
        )
    ).split(" ")
)


def generated(seed: int, size: int) -> Topology:
    """A layered call graph of `size` services: a gateway, mid tiers that fan out to lower tiers,
    leaves; about a third own a database, a few consume a queue."""
    rng = random.Random(seed)
    names = [f"{w}-svc" for w in rng.sample(_WORDS, size - 1)]
    layers: list[list[str]] = [["gateway"]]
    rest = list(names)
    depth = rng.randint(3, 5)
    for i in range(depth - 1):
        take = max(2, len(rest) // (depth - 1 - i)) if i < depth - 2 else len(rest)
        layers.append(rest[:take])
        rest = rest[take:]
    services: dict[str, dict[str, Operation]] = {}
    databases: dict[str, str] = {}
    consumers: set[str] = set()
    for li, layer in enumerate(layers):
        lower = [s for layer_ in layers[li + 1 :] for s in layer_]
        for svc in layer:
            ops: dict[str, Operation] = {}
            for k in range(rng.randint(1, 3) if svc != "gateway" else 4):
                verb = rng.choice(("GET", "POST", "PUT"))
                name = f"{verb} /api/v1/{svc.split('-')[0]}/{k}"
                ops[name] = Operation(name, round(rng.uniform(0.3, 6.0), 2))
            services[svc] = ops
            if rng.random() < 0.35 or not lower:
                db = f"{svc.split('-')[0]}-db"
                databases[db] = svc
                for op in ops.values():
                    if rng.random() < 0.8:
                        op.steps.append(Step("db", db, svc.split("-")[0], db_ms=round(rng.uniform(0.5, 6.0), 2)))
            _ = consumers
    # Calls: each operation calls 0-4 operations of lower layers; every non-gateway service is
    # called by at least one operation above it.
    for li, layer in enumerate(layers[1:], start=1):
        upper = [s for layer_ in layers[:li] for s in layer_]
        for svc in layer:
            caller = rng.choice(upper[-max(2, len(layers[li - 1])) :])
            op = rng.choice(list(services[caller].values()))
            callee_op = rng.choice(list(services[svc]))
            op.steps.append(Step("rpc", svc, callee_op, parallel=rng.random() < 0.3))
    for li, layer in enumerate(layers[:-1]):
        lower = [s for layer_ in layers[li + 1 :] for s in layer_]
        for svc in layer:
            for op in services[svc].values():
                for _ in range(rng.randint(0, 2)):
                    callee = rng.choice(lower)
                    op.steps.append(
                        Step(
                            "rpc",
                            callee,
                            rng.choice(list(services[callee])),
                            probability=rng.choice((1.0, 1.0, 0.7, 0.4)),
                            parallel=rng.random() < 0.3,
                        )
                    )
    # Async queues: a few mid-tier operations publish to a consumer in the last layer.
    leaves = layers[-1]
    for svc in rng.sample(leaves, min(2, len(leaves))):
        consumers.add(svc)
        producer = rng.choice([s for layer_ in layers[1:-1] for s in layer_] or ["gateway"])
        topic = f"{svc.split('-')[0]}-events"
        rng.choice(list(services[producer].values())).steps.append(Step("queue", svc, topic, 0.8))
        services[svc][topic] = Operation(topic, round(rng.uniform(0.5, 4.0), 2))
    entries = [("gateway", op, rng.uniform(1.0, 4.0)) for op in services["gateway"]]
    jvm = set(rng.sample(sorted(services), len(services) // 3))
    return Topology(f"graph{seed}", services, entries, databases, jvm)


def topologies() -> list[Topology]:
    return [shop(), generated(11, 22), generated(23, 36)]
