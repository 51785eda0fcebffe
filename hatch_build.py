"""Hatch build hook: every wheel and sdist carries the web UI.

The UI is built from ui/ with Node.js into src/kokanee/web/ (gitignored, shipped through the
`artifacts` setting in pyproject.toml). Building a wheel or an sdist:

- builds the UI (`npm ci && npm run build` in ui/) unless src/kokanee/web/ is already newer
  than every ui/ source, so `make ui` followed by `python -m build` builds it once;
- fails with a message saying what to install when the UI is not built and Node.js is missing;
- with KOKANEE_BUILD_WITHOUT_UI=1, builds without a UI on purpose (the server then says at `/`
  that its UI is missing).

Editable installs (`pip install -e .`, what `make setup` runs) never build it: they serve
src/kokanee/web/ in place, which `make ui` keeps current.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SKIP_ENV = "KOKANEE_BUILD_WITHOUT_UI"
UI_SOURCES = ("src", "index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")
MANIFEST = Path("src/kokanee/web/.vite/manifest.json")


class UiBuildHook(BuildHookInterface):  # type: ignore[type-arg]  # generic over its builder config
    PLUGIN_NAME = "kokanee-ui"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        if os.environ.get(SKIP_ENV, "") not in ("", "0"):
            self.app.display_warning(f"{SKIP_ENV} is set: building kokanee without its web UI")
            return
        manifest = root / MANIFEST
        ui = root / "ui"
        if not (ui / "package.json").is_file():
            if manifest.is_file():
                return  # an sdist: it carries the built UI and no sources
            raise RuntimeError(_missing(f"there is neither a built UI ({MANIFEST}) nor its sources (ui/)"))
        if manifest.is_file() and manifest.stat().st_mtime >= _newest(ui):
            self.app.display_info(f"kokanee web UI: {MANIFEST.parent.parent} is newer than ui/, not rebuilt")
            return
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise RuntimeError(_missing("Node.js (node and npm, version 20.19 or later) is not on PATH"))
        self.app.display_info("kokanee web UI: npm ci && npm run build in ui/")
        for args in ([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], [npm, "run", "build"]):
            result = subprocess.run(args, cwd=ui, check=False)
            if result.returncode != 0:
                raise RuntimeError(
                    f"building kokanee's web UI failed: `{' '.join(args[1:])}` in ui/ exited {result.returncode} "
                    f"(its output is above). Fix that, or set {SKIP_ENV}=1 to build without the UI."
                )
        if not manifest.is_file():
            raise RuntimeError(f"the UI build finished but wrote no {MANIFEST}; check ui/vite.config.ts")


def _newest(ui: Path) -> float:
    """The latest modification time among the UI's sources, config and lock file."""
    newest = 0.0
    for name in UI_SOURCES:
        path = ui / name
        files = (p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.exists())])
    return newest


def _missing(why: str) -> str:
    return (
        f"kokanee's wheel carries its web UI, built from ui/ with Node.js, but {why}. "
        f"Install Node.js 20.19+ and npm (or run `make ui` first), or set {SKIP_ENV}=1 "
        "to build a wheel without the web UI on purpose."
    )
