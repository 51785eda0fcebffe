"""The web UI: the Vite build in `kokanee/web/` served at `/`, the Phoenix way.

`index.html` is rendered from the build's `.vite/manifest.json` with absolute asset URLs, so a
client route such as `/services/cart` loads the same page as `/`. Any other GET that is not an
API path answers with that page (the UI routes in the browser). API-like paths keep their JSON 404.
Without a build (a source checkout where `make ui` has not run, or a wheel built with
KOKANEE_BUILD_WITHOUT_UI=1) the API still serves, and `/` answers a page that says the UI is
missing, how to get it, and where the API docs are (as does the server log).
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from kokanee.api.errors import error_body

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MANIFEST = Path(".vite") / "manifest.json"

# Paths that are never the UI: a client asking for these wants JSON (or a real 404), not a page.
# /.well-known/ in particular: discovery clients (OAuth, security.txt) must see a plain 404.
_NOT_UI = frozenset({"api", "docs", "redoc", "openapi.json", "metrics", ".well-known"})

_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>kokanee</title>
{tags}
  </head>
  <body>
    <div id="root"></div>
  </body>
</html>
"""


# Said at `/` when this install has no UI: a blank redirect to /docs left people guessing.
_NO_UI = """<!doctype html>
<html lang="en">
  <head><meta charset="UTF-8" /><title>kokanee: no web UI in this install</title></head>
  <body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; line-height: 1.5">
    <h1>kokanee is running, but this install has no web UI</h1>
    <p>The UI is built from <code>ui/</code> with Node.js. From a source checkout, run
    <code>make ui</code> and reload this page. A wheel built with Node.js carries the UI;
    one built with <code>KOKANEE_BUILD_WITHOUT_UI=1</code> does not.</p>
    <p>The API works without it: see <a href="/docs">/docs</a>.</p>
  </body>
</html>
"""


class UiBuildError(Exception):
    """The build folder exists but its manifest is missing or has no entry."""


def render_index(web_dir: Path, root: str = "/") -> str:
    """index.html with the entry's script, its CSS and its imports' CSS, from the Vite manifest."""
    path = web_dir / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UiBuildError(f"cannot read {path}: {e}") from e
    entry = next((chunk for chunk in manifest.values() if chunk.get("isEntry")), None)
    if entry is None:
        raise UiBuildError(f"{path} names no entry chunk")
    css: list[str] = []
    preload: list[str] = []
    seen: set[str] = set()

    def walk(chunk: dict[str, Any]) -> None:
        for file in chunk.get("css", []):
            if file not in css:
                css.append(file)
        for key in chunk.get("imports", []):
            if key in seen or key not in manifest:
                continue
            seen.add(key)
            preload.append(manifest[key]["file"])
            walk(manifest[key])

    walk(entry)

    def url(file: str) -> str:
        return html.escape(root.rstrip("/") + "/" + file, quote=True)

    tags = [f'    <link rel="stylesheet" href="{url(f)}" />' for f in css]
    tags += [f'    <link rel="modulepreload" href="{url(f)}" />' for f in preload]
    tags.append(f'    <script type="module" crossorigin src="{url(entry["file"])}"></script>')
    return _PAGE.format(tags="\n".join(tags))


def mount_ui(app: FastAPI, web_dir: Path = WEB_DIR) -> None:
    """Serve the UI at `/` with index.html for client routes; call after every API route is added."""
    page = _Page(web_dir)
    if page.html() is None:

        @app.get("/", include_in_schema=False)
        def no_ui() -> HTMLResponse:
            return HTMLResponse(_NO_UI, status_code=503, headers={"Cache-Control": "no-cache"})

        return

    app.mount("/assets", _ImmutableFiles(directory=web_dir / "assets", check_dir=False), name="ui-assets")
    root = web_dir.resolve()

    @app.api_route("/{path:path}", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def not_found(path: str) -> Response:
        # Without this, other methods on unknown paths would be 405s against the page route.
        return error_body(f"no route /{path}", 404)

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def ui(path: str) -> Response:
        if path.split("/", 1)[0] in _NOT_UI:
            return error_body(f"no route /{path}", 404)
        file = (root / path).resolve()
        inside = file.is_relative_to(root) and not file.is_relative_to(root / ".vite")
        if path not in ("", "index.html") and inside and file.is_file():
            return FileResponse(file)
        text = page.html()
        if text is None:
            return error_body("the web UI build is missing or broken; rebuild it with `make ui`", 503)
        return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


class _Page:
    """index.html, rendered again when the manifest changes (a rebuild while the server runs)."""

    def __init__(self, web_dir: Path) -> None:
        self.web_dir = web_dir
        self._mtime: float | None = None
        self._html: str | None = None
        self._warned = False

    def html(self) -> str | None:
        try:
            mtime = (self.web_dir / MANIFEST).stat().st_mtime
        except OSError:
            if not self._warned:
                log.warning("web UI not built (%s missing): serving the API only; `make ui` builds it", self.web_dir)
                self._warned = True
            self._mtime, self._html = None, None
            return None
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self._html = render_index(self.web_dir)
            except UiBuildError as e:
                log.warning("web UI build is broken (%s); serving the API only — rebuild it with `make ui`", e)
                self._html = None
        return self._html


class _ImmutableFiles(StaticFiles):
    """Hashed build assets: cache them for good; a new build has new names."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
