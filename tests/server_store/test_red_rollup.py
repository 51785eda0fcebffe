"""RED rollups on a ClickHouse server: SQL and Python quantiles agree; a replayed batch counts once."""

from tests.test_red_rollup import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_python_quantiles_equal_the_sql_function,
    test_service_rows_sum_the_operations_and_count_a_replay_once,
)
