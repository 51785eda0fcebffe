"""The documentation stays what a newcomer needs: a README under 12 KB whose links into docs/ lead
somewhere, and an API reference page (rendered from the OpenAPI schema by docs/hooks.py at every
`mkdocs build`) that lists every route the server has. `make test` also runs `mkdocs build --strict`."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_short_and_names_the_two_commands() -> None:
    text = README.read_text()
    assert len(README.read_bytes()) < 12 * 1024
    assert "make demo" in text and "make test" in text


def test_the_readmes_links_into_docs_lead_to_pages() -> None:
    targets = re.findall(r"\]\((docs/[^)#\s]+)", README.read_text())
    assert targets, "the README should point into docs/"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing pages: {missing}"


def test_the_api_reference_lists_every_route() -> None:
    hooks = _hooks()
    schema = hooks.openapi_schema()
    page = hooks.page()
    for path, methods in schema["paths"].items():
        for method in methods:
            assert f"`{method.upper()} {path}`" in page, f"{method.upper()} {path} is missing from the API reference"
    assert "## Schemas" in page


def test_the_api_reference_names_the_role_each_route_needs() -> None:
    page = _hooks().page()
    block = page[page.index("### `PUT /api/v1/ai/config`") :]
    assert block[: block.index("###", 3)].count("needs **admin**") == 1
    block = page[page.index("### `GET /api/v1/traces`") :]
    assert block[: block.index("###", 3)].count("needs **viewer**") == 1
    assert page.count("· needs **") + page.count("· open to anyone") == page.count("\n### `")


def _pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _pages(value)]
    return []


def test_every_page_is_in_the_nav_once() -> None:
    # mkdocs --strict fails on a page left out of the nav, but not on one listed twice.
    pages = _pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    assert len(pages) == len(set(pages)), f"listed twice: {sorted({p for p in pages if pages.count(p) > 1})}"
    on_disk = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert on_disk <= set(pages), f"not in the nav: {sorted(on_disk - set(pages))}"
