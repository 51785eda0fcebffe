"""Service-graph pairing (the deriver) on a ClickHouse server."""

from tests.test_servicegraph import (  # noqa: F401 - re-run here against the server (see conftest.py)
    store,
    test_client_server_pair_and_user_root,
    test_replayed_batches_and_rerun_minutes_count_once,
)
