"""The shop's front door: frontend-proxy (Envoy in the real demo) and the frontend's pages and API routes.

Every load-generator request enters through the proxy, which forwards to the frontend (or, for
images, to image-provider); the frontend fans out over gRPC to the backend services.
"""

from __future__ import annotations

from kokanee.demo import shop
from kokanee.demo.engine import Call, Handler, ShopError, UpstreamError
from kokanee.demo.shop import User


class FrontendError(ShopError):
    http_status = 500


def _page(name: str, handler: Handler) -> Handler:
    """Turns a backend failure into the 500 the frontend answers, with the error log the demo writes."""

    def handle(c: Call) -> None:
        c.work()
        try:
            handler(c)
        except UpstreamError as exc:
            c.log("ERROR", f"{name} failed: {exc}")
            raise FrontendError(f"{name} failed: {exc}") from exc
        c.work(1.0)

    return handle


def through_proxy(c: Call, method: str, route: str, path: str, handler: Handler, target: str = "frontend") -> None:
    """A load-generator request: proxy server span, then the proxied call to `target`."""

    def proxy(p: Call) -> None:
        p.work()
        status = 200
        try:
            p.http(target, method, route, path, handler)
        except UpstreamError as exc:
            status = exc.http_status
            raise
        finally:
            p.log(
                "INFO" if status < 500 else "ERROR",
                f'"{method} {path} HTTP/1.1" {status} upstream={target}',
                {"http.request.method": method, "url.path": path, "http.response.status_code": status},
            )

    c.sim.stats.requests += 1
    c.http("frontend-proxy", method, route, path, proxy)


def _get_product(product_id: str) -> Handler:
    """A branch fetching one product, for fan-outs run with `Call.parallel`."""

    def branch(c: Call) -> None:
        c.grpc("product-catalog", "GetProduct", shop.get_product(product_id), {"app.product.id": product_id})

    return branch


def _converts(c: Call, user: User, n: int) -> None:
    if user.currency != "USD":
        for _ in range(n):
            c.grpc("currency", "Convert", shop.convert, {"app.currency.conversion.to": user.currency})


def home(user: User) -> Handler:
    def handle(c: Call) -> None:
        c.parallel(
            lambda b: b.grpc("product-catalog", "ListProducts", shop.list_products),
            lambda b: b.grpc("currency", "GetSupportedCurrencies", shop.convert),
            lambda b: b.grpc("cart", "GetCart", shop.get_cart(user), {"app.user.id": user.user_id}),
        )
        _converts(c, user, 4)

    return _page("home", handle)


def product(user: User, product_id: str) -> Handler:
    def handle(c: Call) -> None:
        c.grpc("product-catalog", "GetProduct", shop.get_product(product_id), {"app.product.id": product_id})
        _converts(c, user, 1)

    return _page("product", handle)


def recommendations(user: User, product_ids: list[str], recommended: list[str]) -> Handler:
    def handle(c: Call) -> None:
        c.grpc(
            "recommendation",
            "ListRecommendations",
            shop.list_recommendations(product_ids),
            {"app.products.count": len(product_ids)},
        )
        c.parallel(*[_get_product(pid) for pid in recommended])

    return _page("recommendations", handle)


def ads(category: str) -> Handler:
    def handle(c: Call) -> None:
        c.grpc("ad", "GetAds", shop.get_ads(category), {"app.ads.contextKeys": category})

    return _page("ads", handle)


def view_cart(user: User) -> Handler:
    def handle(c: Call) -> None:
        c.grpc("cart", "GetCart", shop.get_cart(user), {"app.user.id": user.user_id})
        for pid, _ in user.cart:
            c.grpc("product-catalog", "GetProduct", shop.get_product(pid), {"app.product.id": pid})
        _converts(c, user, len(user.cart))

    return _page("cart", handle)


def add_to_cart(user: User, product_id: str, quantity: int) -> Handler:
    def handle(c: Call) -> None:
        c.grpc(
            "cart",
            "AddItem",
            shop.add_item(user, product_id, quantity),
            {"app.user.id": user.user_id, "app.product.id": product_id, "app.product.quantity": quantity},
        )
        user.cart.append((product_id, quantity))

    return _page("add to cart", handle)


def checkout(user: User) -> Handler:
    def handle(c: Call) -> None:
        items = list(user.cart)
        c.grpc(
            "checkout",
            "PlaceOrder",
            shop.place_order(user),
            {"app.user.id": user.user_id, "app.user.currency": user.currency},
        )
        c.parallel(*[_get_product(pid) for pid, _ in items])
        c.log("INFO", f"checkout complete for user {user.user_id}", {"app.user.id": user.user_id})

    return _page("checkout", handle)


def image(file: str) -> Handler:
    def handle(c: Call) -> None:
        c.work()
        slow = c.sim.board.value("image_slow_load", "image-provider")
        if slow is not None:
            c.wait(slow)  # the real flag delays the response in nginx, not the CPU
        c.wait(c.sim.sample_ms(1.0))  # reading the file

    return handle
