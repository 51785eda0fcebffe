"""Serving the UI build (no browser): index.html from the Vite manifest, client-route fallback,
API paths keeping their JSON 404, and a missing build leaving the API serving."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kokanee.api.static import mount_ui, render_index


def _build(web: Path) -> Path:
    (web / ".vite").mkdir(parents=True)
    (web / "assets").mkdir()
    (web / "assets" / "index-abc.js").write_text("console.log(1)")
    (web / "favicon.svg").write_text("<svg/>")
    manifest = {
        "index.html": {"file": "assets/index-abc.js", "isEntry": True, "css": ["assets/index-abc.css"],
                       "imports": ["_vendor.js"]},
        "_vendor.js": {"file": "assets/vendor-def.js", "css": ["assets/vendor-def.css"]},
    }  # fmt: skip
    (web / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    return web


def _app(web: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    mount_ui(app, web)
    return TestClient(app)


def test_index_names_the_entry_its_css_and_its_imports_with_absolute_urls(tmp_path: Path) -> None:
    page = render_index(_build(tmp_path / "web"))
    assert '<script type="module" crossorigin src="/assets/index-abc.js">' in page
    assert 'href="/assets/index-abc.css"' in page and 'href="/assets/vendor-def.css"' in page
    assert '<link rel="modulepreload" href="/assets/vendor-def.js" />' in page


@pytest.mark.parametrize("path", ["/", "/services/cart", "/traces/0123?span=ab", "/index.html"])
def test_client_routes_get_the_page(tmp_path: Path, path: str) -> None:
    r = _app(_build(tmp_path / "web")).get(path)
    assert r.status_code == 200 and "/assets/index-abc.js" in r.text and r.headers["cache-control"] == "no-cache"


def test_files_in_the_build_are_served_but_not_the_manifest(tmp_path: Path) -> None:
    client = _app(_build(tmp_path / "web"))
    assert client.get("/favicon.svg").text == "<svg/>"
    asset = client.get("/assets/index-abc.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert '<div id="root">' in client.get("/.vite/manifest.json").text
    assert '<div id="root">' in client.get("/../../etc/passwd").text


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api", "/.well-known/security.txt", "/docs/x", "/metrics/x"])
def test_api_paths_keep_a_json_404(tmp_path: Path, path: str) -> None:
    r = _app(_build(tmp_path / "web")).get(path)
    assert r.status_code == 404 and r.json() == {"error": f"no route {path}"}


def test_other_methods_on_unknown_paths_are_404_not_405(tmp_path: Path) -> None:
    assert _app(_build(tmp_path / "web")).post("/api/v1/nope").status_code == 404


def test_api_routes_win_over_the_page(tmp_path: Path) -> None:
    assert _app(_build(tmp_path / "web")).get("/api/v1/health").json() == {"status": "ok"}


def test_a_missing_build_warns_and_says_so_at_the_root(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kokanee.api.static"):
        client = _app(tmp_path / "nowhere")
    assert "make ui" in caplog.text
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "no web UI" in r.text and "make ui" in r.text and 'href="/docs"' in r.text
    assert client.get("/api/v1/health").status_code == 200
