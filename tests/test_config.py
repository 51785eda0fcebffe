"""Settings: bad files fail at start naming the setting; every setting is documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kokanee.config import ConfigError, ServeConfig, load_config

CONFIGS = Path(__file__).parent / "testdata" / "config"
# The configuration table of the user guide (it moved there from the README).
CONFIG_DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("typo_key.toml", "http_prot: Extra inputs are not permitted"),
        ("port_not_a_number.toml", "otlp_http_port: Input should be a valid integer"),
        ("ports_collide.toml", "otlp_grpc_port, otlp_http_port and http_port must differ"),
        ("zero_flush_interval.toml", "flush_interval_s: Value error, must be greater than 0"),
        ("broken_toml.toml", "broken_toml.toml"),
    ],
)
def test_bad_config_files_name_the_problem(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({}, CONFIGS / name)


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kokanee.toml"
    path.write_text('http_port = 9000\nhost = "0.0.0.0"\n')
    config = load_config({"http_port": 9100, "host": None}, path)
    assert (config.http_port, config.host) == (9100, "0.0.0.0")


def test_environment_variables_configure_serve(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kokanee", "serve"],
        env={"KOKANEE_HTTP_PORT": "70000", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "http_port: Value error, must be a port number between 0 and 65535" in result.stderr


def test_every_setting_is_documented() -> None:
    doc = CONFIG_DOC.read_text()
    help_text = subprocess.run(
        [sys.executable, "-m", "kokanee", "serve", "--help"], capture_output=True, text=True, timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    for name in ServeConfig.model_fields:
        flag = "--" + name.replace("_", "-")
        assert f"`{flag}`" in doc, f"{flag} is missing from docs/configuration.md"
        assert f"`KOKANEE_{name.upper()}`" in doc, f"KOKANEE_{name.upper()} is missing from docs/configuration.md"
        assert flag in help_text, f"{flag} is missing from kokanee serve --help"
