"""WAL exactly-once into a ClickHouse server: a batch replayed after a crash carries its
insert_deduplication_token, and the server drops it, through the materialized views too (the
restart-through-`kokanee serve` variant stays in tests/test_durability.py: it costs two starts)."""

from tests.test_durability import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_a_batch_cut_short_by_a_crash_is_replayed_exactly,
)
