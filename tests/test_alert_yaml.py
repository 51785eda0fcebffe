"""The alerts file: clear errors naming the field at fault, and the same rules as the API takes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kokanee.alerts.config_store import AlertsFileError, load_file

GOOD = """
channels:
  - id: oncall
    type: pagerduty
    routing_key: R0UT1NG
  - id: team-chat
    type: slack
    url: https://hooks.slack.com/services/T0/B0/XYZ
    digest_interval: 10m
rules:
  - id: checkout-errors
    kind: threshold
    signal: error_rate
    service: checkout
    value: 0.05
    window: 5m
    for: 2m
    severity: critical
    channels: [oncall, team-chat]
  - id: slo
    kind: slo_burn
    objective: 0.999
    objectives: {payment: 0.9995}
  - id: stopped
    kind: absence
  - id: declines
    kind: log_count
    contains: declined
    value: 10
"""


def _load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(AlertsFileError) as e:
        load_file(path)
    return str(e.value)


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(GOOD)
    parsed = load_file(path)
    assert [r.id for r in parsed.rules] == ["checkout-errors", "slo", "stopped", "declines"]
    slo = parsed.rules[1]
    assert slo.kind == "slo_burn" and [(w.long, w.short, w.factor) for w in slo.windows] == [
        ("1h", "5m", 14.4),
        ("6h", "30m", 6.0),
    ]
    assert parsed.rules[0].for_ == "2m"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("value: 0.05", "value: lots"),
            "rules[0] (id 'checkout-errors').value: Input should be a valid number",
        ),
        (GOOD.replace("    value: 0.05\n", ""), "rules[0] (id 'checkout-errors').value: Field required"),
        (
            GOOD.replace("signal: error_rate", "signal: errors"),
            "rules[0] (id 'checkout-errors').signal: Input should be",
        ),
        (
            GOOD.replace("window: 5m", "window: soon"),
            "rules[0] (id 'checkout-errors').window: Value error, 'soon' is not a duration",
        ),
        (GOOD.replace("window: 5m", "window: 30s"), "window: Value error, must be at least 60s"),
        (
            GOOD.replace("kind: absence", "kind: vibes"),
            "rules[2] (id 'stopped'): Input tag 'vibes' found using 'kind' does not match",
        ),
        (
            GOOD.replace("objectives: {payment: 0.9995}", "objectives: {payment: 99.95}"),
            "objectives: Value error, target of 'payment' must be between 0 and 1",
        ),
        (
            GOOD.replace("routing_key: R0UT1NG", "routing_kee: R0UT1NG"),
            "channels[0] (id 'oncall').routing_key: Field required",
        ),
        (
            GOOD.replace("routing_key: R0UT1NG", "routing_key: R\n    colour: red"),
            "channels[0] (id 'oncall').colour: Extra inputs are not permitted",
        ),
        (
            GOOD.replace("url: https://hooks", "url: ftp://hooks"),
            "channels[1] (id 'team-chat').url: String should match pattern",
        ),
        (GOOD.replace("id: stopped", "id: slo"), "rule ids must be unique; repeated: slo"),
        (GOOD.replace("[oncall, team-chat]", "[oncall, pager]"), "rules name channels the file does not define: pager"),
        (GOOD.replace("rules:", "rulez:"), "rulez: Extra inputs are not permitted"),
        ("rules: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping with `rules` and `channels`"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    error = _load(tmp_path, text)
    assert message in error and str(tmp_path / "alerts.yaml") in error, error


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AlertsFileError, match="cannot read"):
        load_file(tmp_path / "nope.yaml")


def test_serve_refuses_to_start_with_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(GOOD.replace("value: 0.05", "value: lots"))
    done = subprocess.run(
        [sys.executable, "-m", "kokanee", "serve", "--data-dir", str(tmp_path / "data"), "--alerts-file", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "bad alerts file" in done.stderr and "rules[0] (id 'checkout-errors').value" in done.stderr


def test_check_alerts_validates_a_file_for_ci(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(GOOD)
    ok = subprocess.run([sys.executable, "-m", "kokanee", "check-alerts", str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "4 rules, 2 channels" in ok.stdout
    path.write_text(GOOD.replace("window: 5m", "window: soon"))
    bad = subprocess.run([sys.executable, "-m", "kokanee", "check-alerts", str(path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "rules[0] (id 'checkout-errors').window" in bad.stderr
