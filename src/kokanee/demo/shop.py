"""The backend services' handlers: what each does per call, and where each fault bites.

Handlers are closures `Call -> None` built by small factories, so the caller's arguments (product ids,
amounts) flow into attributes and logs. Faults are read from the board at the moment of the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kokanee.demo.backends import DbError, kafka_produce, postgres, valkey
from kokanee.demo.engine import Call, Handler, ShopError, UpstreamError
from kokanee.demo.topology import (
    AD_CATEGORIES,
    FAILING_PRODUCT_ID,
    KAFKA_CONSUMERS,
    ORDERS_TOPIC,
    PRODUCTS_BY_ID,
)


class CatalogError(ShopError):
    grpc_code = "INTERNAL"


class PaymentError(ShopError):
    grpc_code = "UNKNOWN"


class CartError(ShopError):
    grpc_code = "UNAVAILABLE"


class CheckoutError(ShopError):
    grpc_code = "INTERNAL"


@dataclass
class User:
    user_id: str
    session_id: str
    currency: str
    loyalty: str
    email: str
    cart: list[tuple[str, int]] = field(default_factory=list)


def get_product(product_id: str) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        share = c.sim.board.value("product_catalog_failure", "product-catalog")
        if share is not None and product_id == FAILING_PRODUCT_ID and c.rng.random() < share:
            c.log("ERROR", "Product Catalog Fail Feature Flag Enabled", {"app.product.id": product_id})
            raise CatalogError("Error: Product Catalog Fail Feature Flag Enabled")
        postgres(
            c,
            "SELECT",
            "products",
            "SELECT id, name, description, picture, price_units, price_nanos, "
            "categories FROM catalog.products WHERE id = $1",
        )
        c.work(0.1)

    return handle


def list_products(c: Call) -> None:
    c.work()
    postgres(
        c,
        "SELECT",
        "products",
        "SELECT id, name, description, picture, price_units, price_nanos, categories FROM catalog.products",
        ms=2.5,
    )
    c.work(0.3)


def convert(c: Call) -> None:
    c.work()


def get_cart(user: User) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        valkey(c, "HGET", f"cart:{user.user_id}")
        hit = bool(user.cart) or c.rng.random() < 0.6
        c.sim.state.cache("valkey-cart", hit)
        c.log("INFO", f"GetCartAsync called with userId={user.user_id}", {"app.user.id": user.user_id})

    return handle


def add_item(user: User, product_id: str, quantity: int) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        valkey(c, "HGET", f"cart:{user.user_id}")
        c.sim.state.cache("valkey-cart", bool(user.cart))
        valkey(c, "HMSET", f"cart:{user.user_id}")
        valkey(c, "EXPIRE", f"cart:{user.user_id}")
        c.log(
            "INFO",
            f"AddItemAsync called with userId={user.user_id}, productId={product_id}, quantity={quantity}",
        )

    return handle


def empty_cart(user: User) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        share = c.sim.board.value("cart_failure", "cart")
        if share is not None and c.rng.random() < share:
            # As in the real cartFailure flag: the cart store points at a host that does not answer.
            error = DbError("It was not possible to connect to the redis server(s). UnableToConnect on badhost:1234")
            try:
                valkey(c, "HMSET", f"cart:{user.user_id}", ms=5.0, host="badhost", error=error)
            except DbError as exc:
                c.log("ERROR", f"Can't access cart storage. {exc}", {"app.user.id": user.user_id})
                raise CartError(f"Can't access cart storage. {exc}") from exc
        valkey(c, "HMSET", f"cart:{user.user_id}")
        valkey(c, "EXPIRE", f"cart:{user.user_id}")
        c.log("INFO", f"EmptyCartAsync called with userId={user.user_id}")

    return handle


def get_ads(category: str) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        c.log("INFO", f"Targeted ad request received for [{category}]", {"app.ads.contextKeys": category})
        c.work(0.5)

    return handle


def list_recommendations(product_ids: list[str]) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        board, now = c.sim.board, c.t
        failing = board.get("recommendation_cache_failure", "recommendation") is not None
        hit = c.rng.random() < (0.25 if failing else 0.85)
        c.sim.state.cache("recommendation-product-cache", hit)
        if failing:
            # The leaking cache slows every request a little more each minute (GC, bigger scans).
            per_minute = board.value("recommendation_cache_failure", "recommendation") or 0.0
            c.work(per_minute * board.minutes_on("recommendation_cache_failure", "recommendation", now))
        if not hit:
            c.grpc("product-catalog", "ListProducts", list_products)
        c.work(0.5)
        c.log(
            "INFO",
            f"Receive ListRecommendations for product ids:{product_ids}",
            {"app.products_recommended.count": 4, "app.cache_hit": hit},
        )
        if failing and c.rng.random() < 0.1:
            c.log("WARN", "cache size growing: product cache is not evicting entries")

    return handle


def charge(user: User, amount: float) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        c.log("INFO", "Charge request received.", {"app.payment.amount": round(amount, 2)})
        share = c.sim.board.value("payment_failure", "payment")
        if share is not None and c.rng.random() < share:
            message = f"Payment request failed. Invalid token. app.loyalty.level={user.loyalty}"
            c.log("ERROR", message, {"app.loyalty.level": user.loyalty})
            raise PaymentError(message)
        c.work(2.0)
        txn = f"{c.rng.getrandbits(32):08x}-{c.rng.getrandbits(16):04x}"
        c.log(
            "INFO",
            "Transaction complete.",
            {
                "app.payment.transaction.id": txn,
                "app.loyalty.level": user.loyalty,
                "app.payment.card_type": "visa",
                "app.payment.charged": True,
            },
        )

    return handle


def quote(items: int) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        c.log("INFO", "Calculated quote", {"app.quote.items.count": items})

    return handle


def get_shipping_quote(items: int) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        c.http("quote", "POST", "/getquote", "/getquote", quote(items))
        c.work(0.2)

    return handle


def ship_order(c: Call) -> None:
    c.work()
    tracking = f"{c.rng.getrandbits(32):08x}"
    c.log("INFO", f"Tracking ID Created: {tracking}", {"app.shipping.tracking.id": tracking})


def send_confirmation(user: User) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        c.wait(c.sim.sample_ms(8.0))  # SMTP round trip
        c.log("INFO", f"Order confirmation email sent to: {user.email}")

    return handle


def accounting_consume(order_id: str) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        lag = c.sim.state.lag_s.get("accounting", 0.0)
        if lag > 10.0:
            c.log("WARN", f"Consumer lag on {ORDERS_TOPIC} is {lag:.0f}s", {"app.order.id": order_id})
        postgres(c, "INSERT", "order", 'INSERT INTO accounting."order" (order_id) VALUES ($1)')
        c.log("INFO", f"Order details: {order_id}", {"app.order.id": order_id})

    return handle


def fraud_consume(order_id: str, amount: float) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        c.log(
            "WARN" if amount > 1000 else "INFO",
            f"Consumed record with orderId: {order_id}",
            {"app.order.id": order_id, "app.order.amount": round(amount, 2)},
        )

    return handle


def place_order(user: User) -> Handler:
    def handle(c: Call) -> None:
        c.log("INFO", f"[PlaceOrder] user_id={user.user_id} user_currency={user.currency}")
        c.work()
        c.grpc("cart", "GetCart", get_cart(user), {"app.user.id": user.user_id})
        total = 0.0
        for product_id, qty in user.cart:
            c.grpc("product-catalog", "GetProduct", get_product(product_id), {"app.product.id": product_id})
            total += PRODUCTS_BY_ID[product_id].price_usd * qty
            if user.currency != "USD":
                c.grpc("currency", "Convert", convert, {"app.currency.conversion.to": user.currency})
        items = sum(q for _, q in user.cart)
        c.http("shipping", "POST", "/get-quote", "/get-quote", get_shipping_quote(items))
        c.grpc("currency", "Convert", convert)
        try:
            c.grpc("payment", "Charge", charge(user, total), {"app.payment.amount": round(total, 2)})
        except UpstreamError as exc:
            c.log("ERROR", f"failed to charge card: could not charge the card: {exc}")
            raise CheckoutError(f"failed to charge card: could not charge the card: {exc}") from exc
        c.http("shipping", "POST", "/ship-order", "/ship-order", ship_order)
        try:
            c.grpc("cart", "EmptyCart", empty_cart(user), {"app.user.id": user.user_id})
        except UpstreamError as exc:
            c.log("ERROR", f"failed to empty user cart during checkout: {exc}")
            raise CheckoutError(f"failed to empty user cart during checkout: {exc}") from exc
        c.http("email", "POST", "/send_order_confirmation", "/send_order_confirmation", send_confirmation(user))
        order_id = f"{c.rng.getrandbits(32):08x}-{c.rng.getrandbits(16):04x}-{c.rng.getrandbits(16):04x}"
        c.sim.state.advance_lag(c.t)
        consumers = {
            "accounting": accounting_consume(order_id),
            "fraud-detection": fraud_consume(order_id, total),
        }
        kafka_produce(c, ORDERS_TOPIC, order_id, {g: consumers[g] for g in KAFKA_CONSUMERS}, dict(c.sim.state.lag_s))
        c.log(
            "INFO",
            f"order placed app.order.id={order_id}",
            {"app.order.id": order_id, "app.order.amount": total},
        )
        user.cart.clear()

    return handle


def random_category(c: Call) -> str:
    return c.rng.choice(AD_CATEGORIES)
