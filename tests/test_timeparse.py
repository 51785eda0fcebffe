"""The one grammar for durations and times (kokanee.store.timeparse), as every command, the API and
config files read them; and the commands that take them, run as a user would."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kokanee.cli import app
from kokanee.config import ServeConfig
from kokanee.importers.command import import_command
from kokanee.store.timeparse import duration_seconds, parse_duration, parse_time, positive_seconds
from tests.test_import_sender import RecordingServer, nezha_day, recorder  # noqa: F401 - the fixture

S = 1_000_000_000
NOW = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90), ("0.5", 0.5), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1m30s", 90), ("500ms", 0.5),
        ("250us", 0.00025), ("10ns", 1e-8), ("2d", 172800), ("1w", 604800), ("1.5h", 5400), (" 15m ", 900),
        ("1h0m1s", 3601), ("0", 0), ("0s", 0),
    ],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == round(seconds * S)
    assert duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "5x", "-5", "-5m", "1h 30m", "5M", "1,5s", "h1", "5m-", "now", "1e3"])
def test_what_is_not_a_duration_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{text!r} is not a duration: use e.g. 90, 90s, 5m, 1h30m")):
        parse_duration(text)


def test_a_run_of_no_time_is_refused() -> None:
    with pytest.raises(ValueError, match="more than zero"):
        positive_seconds("0s")


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("now", NOW),
        ("now-15m", NOW - 900 * S),
        ("now-1h30m", NOW - 5400 * S),
        ("now - 90", NOW - 90 * S),
        ("now+5m", NOW + 300 * S),
        ("2026-01-01T00:00:00Z", NOW),
        ("2026-01-01T01:00:00+01:00", NOW),
        ("2026-01-01T00:00:00", NOW),  # no zone: UTC
        ("2026-01-01", NOW),
        ("2026-01-01T00:00:00.123456789Z", NOW + 123456789),
        ("1767225600", NOW),  # Unix seconds (10 digits)
        ("1767225600.25", NOW + S // 4),
        ("1767225600000", NOW),  # milliseconds (13)
        ("1767225600000000", NOW),  # microseconds (16)
        ("1767225600000000001", NOW + 1),  # nanoseconds (19)
    ],
)
def test_times(text: str, ns: int) -> None:
    assert parse_time(text, NOW) == ns


@pytest.mark.parametrize("text", ["", "yesterday", "now-", "now-5x", "2026-13-01", "12:00", "1767225600000.5"])
def test_what_is_not_a_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_time(text, NOW)


def test_config_fields_in_seconds_take_the_duration_grammar() -> None:
    config = ServeConfig.model_validate({"flush_interval_s": "500ms", "alert_interval_s": "1m30s"})
    assert (config.flush_interval_s, config.alert_interval_s) == (0.5, 90)
    assert ServeConfig.model_validate({"capture_segment_s": 30}).capture_segment_s == 30


def test_the_api_reads_times_and_steps_in_the_same_grammar() -> None:
    from kokanee.api.errors import BadRequest
    from kokanee.api.params import step, window

    w = window("now-1h30m", "now")
    assert w.end_ns - w.start_ns == pytest.approx(5400 * S, abs=S)
    assert step("1m30s", w) == 90 * S
    with pytest.raises(BadRequest, match="is not a time"):
        window("yesterday", None)


runner = CliRunner()


def test_demo_takes_a_duration_with_units() -> None:
    """`kokanee demo --duration 90s` is read (a bad one is refused naming the flag) before the demo
    starts: with an unknown --fault the command stops at that, which shows --duration got through."""
    bad = runner.invoke(app, ["demo", "--duration", "ninety"])
    assert bad.exit_code == 2
    assert "--duration" in bad.output and "'ninety' is not a duration" in bad.output
    ok = runner.invoke(app, ["demo", "--duration", "90s", "--fault", "no_such_kind"])
    assert ok.exit_code == 2
    assert "--duration" not in ok.output and "no_such_kind" in ok.output


def test_serve_refuses_a_bad_duration_naming_the_flag_before_starting() -> None:
    result = runner.invoke(app, ["serve", "--flush-interval-s", "soon"])
    assert result.exit_code == 2
    assert "--flush-interval-s" in result.output and "'soon' is not a duration" in result.output


def test_the_commands_refuse_a_bad_time_naming_the_flag() -> None:
    for args in (["replay", "--start", "yesterday", "--end", "now"], ["model", "score", "--start", "soon"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "--start" in result.output and "is not a time" in result.output


def test_an_unreachable_api_is_named_with_its_flag_before_any_data_is_sent(
    recorder: RecordingServer,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """A recording with fault labels, a working OTLP endpoint and an --api-url nobody listens on:
    the first failed request names the URL and --api-url, before a single span is sent; the import
    retries for --retry-for, then fails naming the URL again."""
    api_url = f"http://127.0.0.1:{_closed_port()}"
    cli = typer.Typer()
    cli.command("import")(import_command)
    cli.command("noop")(lambda: None)
    result = CliRunner().invoke(
        cli,
        ["import", str(nezha_day(tmp_path)), "--endpoint", recorder.url, "--api-url", api_url, "--retry-for", "1s"],
    )
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # rich wraps long lines
    warning = output.index(f"cannot reach {api_url}/api/v1/fault-labels")
    assert "set --api-url" in output[warning:]
    assert output.index("import failed") > warning
    assert "(is --api-url right?)" in output
    assert recorder.requests == []  # nothing sent: the wrong URL showed first

    # --api-url '' sends the data alone, for an OTLP endpoint that is not kokanee.
    data_only = CliRunner().invoke(cli, ["import", str(tmp_path), "--endpoint", recorder.url, "--api-url", ""])
    assert data_only.exit_code == 0, data_only.output
    assert [r.path for r in recorder.requests] == ["/v1/traces"]


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_endpoint_is_named_with_its_flag(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    recording = Path(__file__).parent / "testdata" / "import" / "zipkin-client-server.json"
    cli = typer.Typer()
    cli.command("import")(import_command)
    cli.command("noop")(lambda: None)
    result = CliRunner().invoke(cli, ["import", str(recording), "--endpoint", endpoint, "--retry-for", "1s"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"cannot reach {endpoint}/v1/traces" in output and "set --endpoint" in output
    assert "(is --endpoint right?)" in output


@pytest.mark.parametrize(
    ("args", "flag"),
    [(["query", "SELECT 1"], "--api"), (["session", "list"], "--api"), (["model", "list"], "--api-url")],
)
def test_one_shot_commands_name_an_unreachable_api_and_its_flag(args: list[str], flag: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = runner.invoke(app, [*args, flag, url])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"cannot reach {url}" in output and f"set {flag}" in output
