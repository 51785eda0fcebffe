"""The astronomy shop's services, ports, RPC names and catalogue, modelled on the OpenTelemetry Demo.

Names and routes follow the OpenTelemetry Demo (v2) so that dashboards and queries written for the
real demo read the simulated one; versions and ports are what its compose file publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

DEMO_VERSION = "2.1.3"
SERVICE_NAMESPACE = "opentelemetry-demo"


class Protocol(Enum):
    """How a service is called: the shape of its server spans and which duration histogram it records."""

    HTTP = "http"
    GRPC = "grpc"
    KAFKA = "kafka"  # consumers only: no server spans, CONSUMER spans instead
    CLIENT = "client"  # the load generator only makes calls


@dataclass(frozen=True)
class Service:
    name: str
    protocol: Protocol
    port: int
    language: str  # what the real demo writes it in; kept as app.language, not telemetry.sdk.language
    rpc_service: str = ""  # fully qualified gRPC service, for Protocol.GRPC


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("load-generator", Protocol.CLIENT, 8089, "python"),
        Service("frontend-proxy", Protocol.HTTP, 8080, "cpp"),
        Service("frontend", Protocol.HTTP, 8080, "typescript"),
        Service("image-provider", Protocol.HTTP, 8081, "cpp"),
        Service("ad", Protocol.GRPC, 9555, "java", "oteldemo.AdService"),
        Service("cart", Protocol.GRPC, 7070, "dotnet", "oteldemo.CartService"),
        Service("checkout", Protocol.GRPC, 5050, "go", "oteldemo.CheckoutService"),
        Service("currency", Protocol.GRPC, 7001, "cpp", "oteldemo.CurrencyService"),
        Service("email", Protocol.HTTP, 6060, "ruby"),
        Service("payment", Protocol.GRPC, 50051, "javascript", "oteldemo.PaymentService"),
        Service("product-catalog", Protocol.GRPC, 3550, "go", "oteldemo.ProductCatalogService"),
        Service("quote", Protocol.HTTP, 8090, "php"),
        Service("recommendation", Protocol.GRPC, 9001, "python", "oteldemo.RecommendationService"),
        Service("shipping", Protocol.HTTP, 50050, "rust"),
        Service("accounting", Protocol.KAFKA, 0, "dotnet"),
        Service("fraud-detection", Protocol.KAFKA, 0, "kotlin"),
    )
}

# Backing systems: reached through database/messaging client spans only (virtual nodes in a service map).
POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DB = "postgresql", 5432, "otel"
VALKEY_HOST, VALKEY_PORT = "valkey-cart", 6379
KAFKA_HOST, KAFKA_PORT, ORDERS_TOPIC = "kafka", 9092, "orders"
KAFKA_CONSUMERS: tuple[str, ...] = ("accounting", "fraud-detection")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price_usd: float
    picture: str


PRODUCTS: tuple[Product, ...] = (
    Product(
        "OLJCESPC7Z",
        "National Park Foundation Explorascope",
        101.96,
        "NationalParkFoundationExplorascope.jpg",
    ),
    Product("66VCHSJNUP", "Starsense Explorer Refractor Telescope", 349.95, "StarsenseExplorer.jpg"),
    Product(
        "1YMWWN1N4O",
        "Eclipsmart Travel Refractor Telescope",
        129.95,
        "EclipsmartTravelRefractorTelescope.jpg",
    ),
    Product("L9ECAV7KIM", "Lens Cleaning Kit", 21.95, "LensCleaningKit.jpg"),
    Product("2ZYFJ3GM2N", "Roof Binoculars", 209.95, "RoofBinoculars.jpg"),
    Product("0PUK6V6EV0", "Solar System Color Imager", 175.0, "SolarSystemColorImager.jpg"),
    Product("LS4PSXUNUM", "Red Flashlight", 57.8, "RedFlashlight.jpg"),
    Product("9SIQT8TOJO", "Optical Tube Assembly", 3599.0, "OpticalTubeAssembly.jpg"),
    Product("6E92ZMYYFZ", "Solar Filter", 69.95, "SolarFilter.jpg"),
    Product("HQTGWGPNH4", "The Comet Book", 0.99, "TheCometBook.jpg"),
)
PRODUCTS_BY_ID: dict[str, Product] = {p.id: p for p in PRODUCTS}
# The product the OpenTelemetry Demo's productCatalogFailure flag breaks.
FAILING_PRODUCT_ID = "OLJCESPC7Z"

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "CAD", "JPY", "GBP", "TRY")
AD_CATEGORIES: tuple[str, ...] = ("binoculars", "telescopes", "accessories", "assembly", "travel", "books")
LOYALTY_LEVELS: tuple[str, ...] = ("platinum", "gold", "silver", "bronze")

# Typical self (own processing) time per operation, in milliseconds, before jitter and tails.
BASE_WORK_MS: dict[str, float] = {
    "load-generator": 0.3,
    "frontend-proxy": 0.4,
    "frontend": 6.0,
    "image-provider": 1.5,
    "ad": 2.0,
    "cart": 0.8,
    "checkout": 2.5,
    "currency": 0.15,
    "email": 12.0,
    "payment": 4.0,
    "product-catalog": 0.6,
    "quote": 1.2,
    "recommendation": 3.0,
    "shipping": 0.8,
    "accounting": 2.0,
    "fraud-detection": 1.5,
}

# Resident memory at rest per service, in MiB (the JVM services are the heavy ones, as in the real demo).
BASE_MEMORY_MIB: dict[str, float] = {
    "load-generator": 120,
    "frontend-proxy": 45,
    "frontend": 180,
    "image-provider": 12,
    "ad": 310,
    "cart": 95,
    "checkout": 28,
    "currency": 9,
    "email": 70,
    "payment": 85,
    "product-catalog": 24,
    "quote": 40,
    "recommendation": 65,
    "shipping": 8,
    "accounting": 110,
    "fraud-detection": 290,
}


def peer_port(service: str) -> int:
    return SERVICES[service].port
