"""WAL exactly-once into a ClickHouse server: insert_deduplication_token through the materialized views."""

from tests.test_durability import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_a_batch_cut_short_by_a_crash_is_replayed_exactly,
    test_replaying_records_already_in_the_store_does_not_double_them,
)
