"""Runs a test's script in a Python process of its own: chDB opens one data path per process, so a
test that opens a store at an old migration (or a second path) does it there."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, *args: str) -> Any:
    """Runs `script` (indented source is dedented) with `args` as sys.argv[1:] from the project root;
    returns the JSON its last line of output prints. Raises CalledProcessError if it fails."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])
