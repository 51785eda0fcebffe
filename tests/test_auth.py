"""Bearer tokens: off by default; when set, OTLP and API requests without them get 401. With auth on,
the first start creates an admin whose password is printed once (tests/test_auth_users.py and
test_auth_routes.py cover users, sessions and roles in-process)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import grpc
import httpx
import pytest

from tests.otel_clients import send_sample
from tests.server import KokaneeServer

INGEST, API = "ingest-s3cret", "api-t0ken"


@pytest.fixture
def guarded(start_kokanee: Callable[..., KokaneeServer]) -> KokaneeServer:
    return start_kokanee("--ingest-token", INGEST, "--api-token", API)


def test_otlp_http_needs_the_ingest_token(guarded: KokaneeServer) -> None:
    url = f"{guarded.otlp_http_url}/v1/traces"
    headers = {"Content-Type": "application/x-protobuf"}
    assert httpx.post(url, content=b"", headers=headers).status_code == 401
    wrong = httpx.post(url, content=b"", headers={**headers, "Authorization": f"Bearer {API}"})
    assert wrong.status_code == 401
    assert "bearer token" in wrong.text
    right = httpx.post(url, content=b"", headers={**headers, "Authorization": f"Bearer {INGEST}"})
    assert right.status_code == 200


def test_otlp_grpc_needs_the_ingest_token(guarded: KokaneeServer) -> None:
    with grpc.insecure_channel(guarded.otlp_grpc_endpoint) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        with pytest.raises(grpc.RpcError) as caught:
            export(b"", timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert export(b"", metadata=(("authorization", f"Bearer {INGEST}"),), timeout=10) == b""


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_exporters_with_the_token_get_through(guarded: KokaneeServer, protocol: str) -> None:
    service = f"auth-{protocol}-{uuid.uuid4().hex[:6]}"
    sent = send_sample(guarded, protocol, service, token=INGEST)
    rows = guarded.wait_for(
        f"SELECT TraceId FROM otel_traces WHERE ServiceName = '{service}'", lambda r: len(r) == 2
    )  # guarded.query sends the API token
    assert {r["TraceId"] for r in rows} == {sent.trace_id}


def test_api_needs_the_api_token_except_health(guarded: KokaneeServer) -> None:
    base = guarded.api_url
    assert httpx.get(f"{base}/api/v1/health").status_code == 200
    for path in ("/api/v1/services", "/api/v1/traces", "/api/v1/logs", "/api/v1/metrics"):
        response = httpx.get(f"{base}{path}")
        assert response.status_code == 401, path
        assert response.json() == {"error": "not signed in: sign in, or send Authorization: Bearer <token>"}
    denied = httpx.post(f"{base}/api/v1/query", json={"sql": "SELECT 1"})
    assert denied.status_code == 401
    wrong = httpx.get(f"{base}/api/v1/services", headers={"Authorization": f"Bearer {INGEST}"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "missing or wrong bearer token"})
    allowed = httpx.get(f"{base}/api/v1/services", headers={"Authorization": f"Bearer {API}"})
    assert allowed.status_code == 200
    assert "services" in allowed.json()


def test_without_tokens_everything_is_open(kokanee_server: KokaneeServer) -> None:
    assert httpx.get(f"{kokanee_server.api_url}/api/v1/services").status_code == 200


def _password_printed(server: KokaneeServer) -> str | None:
    match = re.search(r"Created user 'admin' with password:\s+(\S+)", server.log())
    return match.group(1) if match else None


def test_the_first_admins_password_is_printed_at_the_first_start_and_signs_in(
    start_kokanee: Callable[..., KokaneeServer],
) -> None:
    server = start_kokanee("--auth", "on")  # later starts print nothing: tests/test_auth_users.py
    password = _password_printed(server)
    assert password is not None
    base = server.api_url
    assert httpx.get(f"{base}/api/v1/services").status_code == 401
    signed_in = httpx.post(f"{base}/api/v1/auth/login", json={"user": "admin", "password": password})
    assert signed_in.status_code == 200
    me = httpx.get(f"{base}/api/v1/auth/me", cookies=signed_in.cookies)
    assert me.json() == {"user": "admin", "role": "admin", "via": "session", "auth": True}
