"""Auth's Prometheus metrics (served at /metrics with kokanee's others): brute force and
misconfigured scripts show up as rising counts."""

from __future__ import annotations

from prometheus_client import Counter

SIGNINS = Counter("kokanee_auth_signins_total", "Sign-in attempts by outcome (ok, wrong, throttled).", ["outcome"])
DENIED = Counter(
    "kokanee_auth_denied_total",
    "API requests refused: 401 (not signed in, or a wrong token) or 403 (role too low, or no CSRF token).",
    ["status"],
)
