"""The service map derived by `kokanee serve --store http://...` from spans sent over OTLP/HTTP."""

from tests.test_topology_api import test_the_server_derives_the_map  # noqa: F401 - re-run against the server
