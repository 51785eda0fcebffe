"""`kokanee model train|score|feedback|list`: the trace autoencoder of a running kokanee, through
its API (the server owns the store)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from kokanee.store.timeparse import TIME_HELP, check_time

model_app = typer.Typer(no_args_is_help=True, help="The trace autoencoder: train, score, feedback, list.")

ApiUrl = Annotated[str, typer.Option(help="kokanee API.", envvar="KOKANEE_API_URL")]
Token = Annotated[str | None, typer.Option(help="Bearer token for the API.", envvar="KOKANEE_TOKEN")]


def _call(method: str, url: str, token: str | None, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.request(method, url, json=body, headers=headers, timeout=600)
    except httpx.HTTPError as e:
        typer.echo(f"kokanee: cannot reach {url} ({e}); set --api-url (or KOKANEE_API_URL)", err=True)
        raise typer.Exit(1) from e
    if r.status_code >= 400:
        try:
            message = r.json().get("error", r.text)
        except ValueError:
            message = r.text
        typer.echo(f"kokanee: {message}", err=True)
        raise typer.Exit(2 if r.status_code < 500 else 1)
    return r.json()


@model_app.command("train")
def train(
    start: Annotated[str, typer.Option(parser=check_time, help=f"Start of a normal period: {TIME_HELP}.")],
    end: Annotated[str, typer.Option(parser=check_time, help=f"Its end: {TIME_HELP}.")] = "now",
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
) -> None:
    """Train the next model version on a normal period (plus traces marked normal)."""
    info = _call("POST", f"{api_url.rstrip('/')}/api/v1/models/train", token, {"start": start, "end": end})
    typer.echo(
        f"model v{info['version']}: {info['traces']} traces, {info['features']} features, "
        f"threshold {info['threshold']:.4g}"
    )


@model_app.command("score")
def score(
    start: Annotated[str, typer.Option(parser=check_time, help=f"{TIME_HELP}.")],
    end: Annotated[str, typer.Option(parser=check_time, help=f"{TIME_HELP}.")] = "now",
    version: Annotated[int | None, typer.Option(help="Model version [default: latest].")] = None,
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
) -> None:
    """Score the window's traces; print the flagged ones with their explanations as JSON."""
    body = {"start": start, "end": end, "version": version}
    typer.echo(json.dumps(_call("POST", f"{api_url.rstrip('/')}/api/v1/models/score", token, body), indent=2))


@model_app.command("feedback")
def feedback(
    trace_id: Annotated[str, typer.Argument(help="A flagged trace's id.")],
    verdict: Annotated[str, typer.Option(help="normal (a false positive) or anomalous.")] = "normal",
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
) -> None:
    """Mark a flagged trace; 'normal' ones are trained on as normal next time."""
    body = {"trace_id": trace_id, "verdict": verdict}
    _call("POST", f"{api_url.rstrip('/')}/api/v1/models/feedback", token, body)
    typer.echo(f"{trace_id}: {verdict}")


@model_app.command("list")
def list_models(api_url: ApiUrl = "http://127.0.0.1:8080", token: Token = None) -> None:
    """Trained model versions, newest first."""
    for m in _call("GET", f"{api_url.rstrip('/')}/api/v1/models", token)["models"]:
        typer.echo(f"v{m['version']}  trained {m['trained_at']}  {m['traces']} traces  threshold {m['threshold']:.4g}")
