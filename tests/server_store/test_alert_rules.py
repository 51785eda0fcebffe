"""Alerting's tables and rules on a ClickHouse server."""

from tests.test_alert_rules import (  # noqa: F401 - re-run here against the server (see conftest.py)
    store,
    test_a_transition_rerun_after_a_crash_adds_no_second_notification,
    test_error_rate_fires_resolves_and_notifies_each_once,
)
