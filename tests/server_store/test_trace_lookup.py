"""Reading traces by id (kokanee_trace_keys, the exporter's lookup) from a ClickHouse server."""

from tests.test_trace_lookup import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_a_trace_sent_in_several_requests_comes_back_whole,
    test_a_trace_without_keys_is_found_through_the_exporters_lookup,
    test_an_unknown_trace_id_is_empty,
)
