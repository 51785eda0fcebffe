"""The load generator: user journeys with the OpenTelemetry Demo's Locust weights, and their arrivals.

Each request a journey makes is its own trace, rooted in a load-generator CLIENT span, as the real
Locust-based generator does; journeys arrive as a Poisson process whose rate swings like a compressed
day, so baselines see quiet and busy periods.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from opentelemetry.context import Context

from kokanee.demo import frontend as fe
from kokanee.demo.engine import Call, ShopError, Sim
from kokanee.demo.shop import User
from kokanee.demo.topology import AD_CATEGORIES, CURRENCIES, LOYALTY_LEVELS, PRODUCTS

# Locust task weights of the OpenTelemetry Demo's load generator.
JOURNEY_WEIGHTS: dict[str, int] = {
    "index": 1,
    "browse_product": 10,
    "get_recommendations": 3,
    "get_ads": 3,
    "view_cart": 3,
    "add_to_cart": 2,
    "checkout": 1,
}


def new_user(rng: random.Random) -> User:
    uid = f"{rng.getrandbits(128):032x}"
    return User(
        user_id=uid,
        session_id=f"{rng.getrandbits(128):032x}",
        currency="USD" if rng.random() < 0.6 else rng.choice(CURRENCIES),
        loyalty=rng.choice(LOYALTY_LEVELS),
        email=f"user-{uid[:8]}@example.com",
    )


class _Visit:
    """One user's requests, each starting after a think time."""

    def __init__(self, sim: Sim, user: User, t: int) -> None:
        self.sim, self.user, self.t = sim, user, t

    def request(
        self,
        method: str,
        route: str,
        path: str,
        handler: Callable[[Call], None],
        target: str = "frontend",
    ) -> bool:
        root = Call(self.sim, "load-generator", Context(), self.t)  # a fresh context: a new trace per request
        ok = True
        try:
            fe.through_proxy(root, method, route, path, handler, target)
        except ShopError:
            ok = False  # Locust records the failure and the user carries on
        self.t = root.t + int(self.sim.rng.uniform(0.05, 0.8) * 1e9)
        return ok

    def images(self, count: int) -> None:
        for p in self.sim.rng.sample(PRODUCTS, count):
            path = f"/images/products/{p.picture}"
            self.request("GET", "/images/products/{file}", path, fe.image(p.picture), target="image-provider")

    def product(self, product_id: str) -> bool:
        ok = self.request(
            "GET",
            "/api/products/{productId}",
            f"/api/products/{product_id}",
            fe.product(self.user, product_id),
        )
        self.images(1)
        return ok

    def add(self) -> bool:
        p = self.sim.rng.choice(PRODUCTS)
        qty = self.sim.rng.choice((1, 1, 1, 2, 3, 4, 5, 10))
        return self.product(p.id) and self.request(
            "POST", "/api/cart", "/api/cart", fe.add_to_cart(self.user, p.id, qty)
        )


def run_journey(sim: Sim, name: str, t: int) -> int:
    """Runs journey `name` for a new user from `t` (unix ns); returns when its last request ended."""
    rng, user = sim.rng, new_user(sim.rng)
    v = _Visit(sim, user, t)
    if name == "index":
        v.request("GET", "/", "/", fe.home(user))
        v.images(3)
    elif name == "browse_product":
        v.product(rng.choice(PRODUCTS).id)
    elif name == "get_recommendations":
        pid = rng.choice(PRODUCTS).id
        recs = [p.id for p in rng.sample(PRODUCTS, 4)]
        v.request(
            "GET",
            "/api/recommendations",
            f"/api/recommendations?productIds={pid}",
            fe.recommendations(user, [pid], recs),
        )
    elif name == "get_ads":
        cat = rng.choice(AD_CATEGORIES)
        v.request("GET", "/api/data", f"/api/data?contextKeys={cat}", fe.ads(cat))
    elif name == "view_cart":
        v.request("GET", "/api/cart", "/api/cart", fe.view_cart(user))
    elif name == "add_to_cart":
        v.add()
    elif name == "checkout":
        for _ in range(rng.choice((1, 1, 2, 3))):
            v.add()
        if user.cart:
            v.request("POST", "/api/checkout", "/api/checkout", fe.checkout(user))
    else:
        raise ValueError(f"unknown journey {name!r}; known: {', '.join(JOURNEY_WEIGHTS)}")
    sim.stats.journeys += 1
    return v.t


def pick_journey(rng: random.Random) -> str:
    return rng.choices(list(JOURNEY_WEIGHTS), weights=list(JOURNEY_WEIGHTS.values()))[0]


# Share of journeys that place an order: feeds the Kafka lag gauge's messages-per-second estimate.
CHECKOUT_SHARE = JOURNEY_WEIGHTS["checkout"] / sum(JOURNEY_WEIGHTS.values())


class Arrivals:
    """Poisson arrivals at `rate` per second, swung ±`swing` by a sine of `period_s` (a compressed day)."""

    def __init__(
        self,
        rng: random.Random,
        rate: float,
        origin_ns: int,
        period_s: float = 1200.0,
        swing: float = 0.4,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (journeys per second)")
        self.rng, self.rate, self.origin_ns, self.period_s, self.swing = rng, rate, origin_ns, period_s, swing
        self.t = origin_ns

    def load(self, t: int) -> float:
        """Load relative to the mean at `t`: 1 ± swing; starts at the mean, rising."""
        return 1.0 + self.swing * math.sin(2 * math.pi * (t - self.origin_ns) / 1e9 / self.period_s)

    def next(self) -> int:
        # Thinning would be exact; sampling the gap at the current rate is close enough for a slow swing.
        gap_s = self.rng.expovariate(self.rate * self.load(self.t))
        self.t += int(gap_s * 1e9)
        return self.t
