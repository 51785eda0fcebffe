"""The `kokanee` command: serve, demo, import, query."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kokanee.config import ConfigError, ServeConfig, load_config
from kokanee.store.timeparse import duration_seconds

app = typer.Typer(help="kokanee: OpenTelemetry in, answers out.", no_args_is_help=True, add_completion=False)


def _field_help(name: str) -> str:
    return ServeConfig.model_fields[name].description or ""


def _opt(name: str, **kwargs: Any) -> Any:
    return typer.Option(envvar=f"KOKANEE_{name.upper()}", help=_field_help(name), show_default=False, **kwargs)


@app.command()
def serve(
    data_dir: Annotated[Path | None, _opt("data_dir")] = None,
    store: Annotated[str | None, _opt("store")] = None,
    cluster: Annotated[str | None, _opt("cluster")] = None,
    role: Annotated[str | None, _opt("role")] = None,
    host: Annotated[str | None, _opt("host")] = None,
    otlp_grpc_port: Annotated[int | None, _opt("otlp_grpc_port")] = None,
    otlp_http_port: Annotated[int | None, _opt("otlp_http_port")] = None,
    http_port: Annotated[int | None, _opt("http_port")] = None,
    ingest_token: Annotated[str | None, _opt("ingest_token")] = None,
    api_token: Annotated[str | None, _opt("api_token")] = None,
    auth: Annotated[str | None, _opt("auth")] = None,
    admin_password: Annotated[str | None, _opt("admin_password")] = None,
    max_request_mib: Annotated[float | None, _opt("max_request_mib")] = None,
    max_memory_mib: Annotated[float | None, _opt("max_memory_mib")] = None,
    max_pending_mib: Annotated[float | None, _opt("max_pending_mib")] = None,
    flush_interval_s: Annotated[float | None, _opt("flush_interval_s", parser=duration_seconds)] = None,
    flush_rows: Annotated[int | None, _opt("flush_rows")] = None,
    insert_streams: Annotated[int | None, _opt("insert_streams")] = None,
    wal_segment_mib: Annotated[int | None, _opt("wal_segment_mib")] = None,
    decoder: Annotated[str | None, _opt("decoder")] = None,
    servicegraph_wait_s: Annotated[float | None, _opt("servicegraph_wait_s", parser=duration_seconds)] = None,
    user_client: Annotated[str | None, _opt("user_client")] = None,
    slo_error_rate: Annotated[float | None, _opt("slo_error_rate")] = None,
    slo_latency_ms: Annotated[float | None, _opt("slo_latency_ms")] = None,
    demo: Annotated[bool | None, _opt("demo")] = None,
    alerts_file: Annotated[Path | None, _opt("alerts_file")] = None,
    alert_interval_s: Annotated[float | None, _opt("alert_interval_s", parser=duration_seconds)] = None,
    public_url: Annotated[str | None, _opt("public_url")] = None,
    capture: Annotated[str | None, _opt("capture")] = None,
    capture_endpoint: Annotated[str | None, _opt("capture_endpoint")] = None,
    capture_sample: Annotated[str | None, _opt("capture_sample")] = None,
    capture_segment_mib: Annotated[float | None, _opt("capture_segment_mib")] = None,
    capture_segment_s: Annotated[float | None, _opt("capture_segment_s", parser=duration_seconds)] = None,
    capture_retention: Annotated[Path | None, _opt("capture_retention")] = None,
    ai_config: Annotated[Path | None, _opt("ai_config")] = None,
    config: Annotated[
        Path | None,
        typer.Option(envvar="KOKANEE_CONFIG", help="TOML file with the same settings (snake_case keys)."),
    ] = None,
) -> None:
    """Run the OTLP receivers, the store, the API and the UI."""
    values = {k: v for k, v in locals().items() if k != "config"}
    try:
        settings = load_config(values, config)
    except ConfigError as e:
        typer.echo(f"kokanee: bad configuration: {e}", err=True)
        raise typer.Exit(2) from e
    if settings.alerts_file is not None:
        from kokanee.alerts.config_store import AlertsFileError, load_file

        try:
            load_file(settings.alerts_file)
        except AlertsFileError as e:
            typer.echo(f"kokanee: bad alerts file: {e}", err=True)
            raise typer.Exit(2) from e
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from kokanee.server import DataDirInUse, run

    try:
        run(settings)
    except DataDirInUse as e:
        typer.echo(f"kokanee: {e}", err=True)
        raise typer.Exit(1) from e


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A ClickHouse SELECT over otel_* and kokanee_* tables.")],
    api: Annotated[str, typer.Option(envvar="KOKANEE_API_URL", help="The running server's API.")] = (
        "http://127.0.0.1:8080"
    ),
    token: Annotated[str | None, typer.Option(envvar="KOKANEE_API_TOKEN", help="API bearer token.")] = None,
) -> None:
    """Run a read-only SQL query on a running kokanee and print the rows as JSON lines."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(f"{api}/api/v1/query", json={"sql": sql}, headers=headers, timeout=60)
    except httpx.TransportError as e:
        typer.echo(f"kokanee: cannot reach {api} ({e}); set --api (or KOKANEE_API_URL)", err=True)
        raise typer.Exit(1) from e
    body = response.json()
    if response.status_code != 200:
        typer.echo(f"kokanee: {body.get('error', response.text)}", err=True)
        raise typer.Exit(1)
    for row in body["rows"]:
        typer.echo(json.dumps(dict(zip(body["columns"], row, strict=True)), default=str))


@app.command("check-alerts")
def check_alerts(path: Annotated[Path, typer.Argument(help="The alerts YAML file (rules and channels).")]) -> None:
    """Validate an alerts file without starting anything (for CI); exits 2 naming the field at fault."""
    from kokanee.alerts.config_store import AlertsFileError, load_file

    try:
        parsed = load_file(path)
    except AlertsFileError as e:
        typer.echo(f"kokanee: bad alerts file: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"{path}: {len(parsed.rules)} rules, {len(parsed.channels)} channels")


@app.command()
def schema(
    cluster: Annotated[
        str | None, typer.Option(envvar="KOKANEE_CLUSTER", help="Render it for this ClickHouse cluster.")
    ] = None,
) -> None:
    """Print the DDL kokanee runs on an empty store (for review, or to run by hand), ON CLUSTER with --cluster."""
    from kokanee.store.cluster import Cluster
    from kokanee.store.migrations import schema_statements

    for statement in schema_statements(Cluster(cluster) if cluster else None):
        typer.echo(f"{statement};\n")


def _register_optional() -> None:
    """Commands whose modules are large load lazily by living in their own packages."""
    try:
        from kokanee.demo.command import demo_command, demo_fault_app

        app.command("demo")(demo_command)
        app.add_typer(demo_fault_app, name="fault", help="Switch faults on and off in a running demo.")
    except ImportError:
        pass
    try:
        from kokanee.importers.command import import_command

        app.command("import")(import_command)
    except ImportError:
        pass
    try:
        from kokanee.capture.command import replay_command, retention_command, session_app

        app.command("replay")(replay_command)
        app.command("retention")(retention_command)
        app.add_typer(session_app, name="session", help="Capture sessions: start, stop, create, export, import.")
    except ImportError:
        pass
    try:
        from kokanee.analysis.model_command import model_app

        app.add_typer(model_app, name="model", help="The trace autoencoder: train, score, feedback, list.")
    except ImportError:
        pass


# `kokanee serve` runs none of them, and their imports (the demo's engine, the importers) cost its
# start ~0.2 s of CPU before health 200; every other invocation, --help included, lists them.
if sys.argv[1:2] != ["serve"]:
    _register_optional()
