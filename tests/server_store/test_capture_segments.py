"""The capture index (kokanee_capture_segments) on a ClickHouse server."""

from tests.test_capture_segments import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_capture_turns_the_wal_into_indexed_segments_across_a_restart,
)
