"""AI tables (dashboards) on a ClickHouse server, through `kokanee serve --store http://...`."""

from tests.test_ai_dashboards import (  # noqa: F401 - re-run here against the server (see conftest.py)
    test_generate_save_edit_delete,
)
