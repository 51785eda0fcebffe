from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, WEB_MANIFEST, sync_api


@pytest.fixture
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "Debian chromium is missing: `apt-get install -y chromium` (`make test` does it)"
    assert WEB_MANIFEST.exists(), "the web UI is not built: run `make ui` (`make test` does it)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
