"""Anomalies and incidents on a ClickHouse server."""

from tests.test_incidents import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_a_single_warning_opens_no_incident,
)
