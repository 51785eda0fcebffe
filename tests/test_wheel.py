"""The wheel carries the web UI: built as `pip wheel` builds it (hatch_build.py's hook), installed
into a fresh venv, it serves the UI from `kokanee serve` there.

The fresh venv gets the wheel alone (`--no-deps`); its dependencies are this environment's,
reached through a .pth line, because installing chDB, pyarrow and the rest again would take
minutes. The test checks that kokanee itself (and its UI) is imported from the new venv. The
wheel build reuses the UI in src/kokanee/web when it is newer than ui/ (`make test` builds it
first with `make ui`), so it takes seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import free_ports

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "kokanee/web/.vite/manifest.json"


def pip(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = pip("wheel", "--no-deps", "-q", "-w", str(out), str(ROOT))
    assert built.returncode == 0, built.stdout + built.stderr
    return next(out.glob("kokanee-*.whl"))


@pytest.fixture
def venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed, and this environment's packages for its dependencies."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = pip("--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # Appended after the venv's own site-packages, so the wheel's kokanee wins over the editable one.
    (Path(site) / "deps-from-dev-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def clean_env() -> dict[str, str]:
    """The environment without anything that would import kokanee from this checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture
def served(venv: Path, tmp_path: Path) -> Iterator[str]:
    grpc, otlp_http, api = free_ports(3)
    cmd = [
        str(venv / "bin" / "kokanee"), "serve", "--data-dir", str(tmp_path / "data"), "--host", "127.0.0.1",
        "--otlp-grpc-port", str(grpc), "--otlp-http-port", str(otlp_http), "--http-port", str(api),
    ]  # fmt: skip
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=clean_env(), cwd=tmp_path)
    url = f"http://127.0.0.1:{api}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"kokanee exited with {proc.returncode}:\n{log.read_text()}"
            if time.monotonic() >= deadline:  # a limit on the wait, not a timing claim
                pytest.fail(f"kokanee did not answer:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_wheel_holds_the_ui_build(wheel: Path) -> None:
    """The build lists the manifest and the entry script it names."""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert MANIFEST in names
    assert any(re.fullmatch(r"kokanee/web/assets/index-[\w-]+\.js", n) for n in names)


def test_a_fresh_venv_with_the_wheel_serves_the_ui(venv: Path, served: str) -> None:
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import kokanee.api.static as s; print(s.WEB_DIR)"],
        capture_output=True, text=True, check=True, env=clean_env(),
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv), where  # the wheel's kokanee, not this checkout's
    page = httpx.get(f"{served}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    script = re.search(r'<script type="module" crossorigin src="(/assets/[^"]+\.js)"', page.text)
    assert script, page.text
    asset = httpx.get(f"{served}{script.group(1)}")
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"] and len(asset.content) > 1000
    assert httpx.get(f"{served}/services").text == page.text  # a client route gets the page too


def _bare_project(tmp_path: Path) -> Path:
    """This project's build files and package root without a built UI, with ui/ present."""
    project = tmp_path / "project"
    (project / "src" / "kokanee").mkdir(parents=True)
    (project / "ui").mkdir()
    for name in ("pyproject.toml", "hatch_build.py", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copy(ROOT / "src" / "kokanee" / "__init__.py", project / "src" / "kokanee" / "__init__.py")
    shutil.copy(ROOT / "ui" / "package.json", project / "ui" / "package.json")
    return project


def test_without_node_the_build_fails_saying_what_to_do_or_builds_without_ui_on_purpose(tmp_path: Path) -> None:
    project = _bare_project(tmp_path)
    no_node = {**clean_env(), "PATH": str(tmp_path / "empty-bin")}
    failed = pip("wheel", "--no-deps", "-w", str(tmp_path / "out"), str(project), env=no_node)
    assert failed.returncode != 0
    said = " ".join((failed.stdout + failed.stderr).split())
    assert "Node.js (node and npm, version 20.19 or later) is not on PATH" in said
    assert "KOKANEE_BUILD_WITHOUT_UI=1" in said

    on_purpose = {**no_node, "KOKANEE_BUILD_WITHOUT_UI": "1"}
    built = pip("wheel", "--no-deps", "-q", "-w", str(tmp_path / "out"), str(project), env=on_purpose)
    assert built.returncode == 0, built.stdout + built.stderr
    names = zipfile.ZipFile(next((tmp_path / "out").glob("kokanee-*.whl"))).namelist()
    assert "kokanee/__init__.py" in names and not [n for n in names if n.startswith("kokanee/web/")]
