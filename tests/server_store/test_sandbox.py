"""The SQL sandbox on a ClickHouse server (readonly=2 and limits sent as settings of the query)."""

from tests.test_sandbox import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_rows_are_capped_and_marked_truncated,
    test_the_built_in_dashboards_pass_the_sandbox_and_run,
    test_the_query_endpoint_answers_rows_or_a_400,
)
