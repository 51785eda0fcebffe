"""tests/test_otlp_sdk.py against a ClickHouse server: the OpenTelemetry SDK into `kokanee serve --store http://...`."""

from tests.test_otlp_sdk import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_logs_and_metrics_round_trip,
    test_spans_round_trip_with_every_field,
)
