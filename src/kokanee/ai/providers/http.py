"""HTTP for providers: timeouts, and retries on 429/5xx and network errors honouring Retry-After."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from kokanee.ai.providers.base import ProviderError

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})  # 529: Anthropic "overloaded"


@dataclass(frozen=True)
class HttpPolicy:
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_s: float = 0.5
    max_wait_s: float = 30.0  # a Retry-After longer than this is not waited for: the next model is tried


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        if err:
            return str(err)[:300]
    return str(body)[:300]


@contextmanager
def send(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    policy: HttpPolicy,
    stream: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[httpx.Response]:
    """POSTs `body` as JSON; yields the successful response (open, when streaming).

    Retries what the server says is temporary, waiting what Retry-After asks (or backing off);
    raises ProviderError (retryable when the last failure was temporary) when it gives up.
    """
    attempt = 0
    while True:
        try:
            request = client.build_request("POST", url, headers=headers, json=body, timeout=policy.timeout_s)
            response = client.send(request, stream=stream)
        except httpx.TimeoutException as e:
            error = ProviderError(f"timed out after {policy.timeout_s:g} s", retryable=True)
            wait = policy.backoff_s * 2**attempt
            cause: Exception = e
        except httpx.HTTPError as e:
            error = ProviderError(f"cannot reach {url}: {e}", retryable=True)
            wait = policy.backoff_s * 2**attempt
            cause = e
        else:
            if response.status_code < 400:
                try:
                    yield response
                finally:
                    response.close()
                return
            if stream:
                response.read()
            retryable = response.status_code in _RETRY_STATUS
            error = ProviderError(
                f"HTTP {response.status_code}: {_error_text(response)}",
                retryable=retryable,
                status=response.status_code,
            )
            asked = retry_after_s(response.headers.get("retry-after"))
            wait = asked if asked is not None else policy.backoff_s * 2**attempt
            response.close()
            cause = error
            if not retryable:
                raise error
        if attempt >= policy.max_retries or wait > policy.max_wait_s:
            raise error from cause
        sleep(wait)
        attempt += 1
