"""Settings of `kokanee serve`: one frozen model, filled from flags, `KOKANEE_*` variables or a TOML file.

Each field's description is its documentation: `kokanee serve --help` shows it, and a test checks
that docs/configuration.md lists every setting.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kokanee.roles import Role
from kokanee.store.memory import MIN_MEMORY_MIB, MemoryBudget
from kokanee.store.timeparse import duration_seconds

MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting has a bad value; the message names the setting as the user spells it."""


class ServeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(Path("kokanee-data"), description="Directory for the embedded store and the WAL.")
    store: str = Field(
        "",
        description="chdb:///path (default: DATA_DIR/store) or http(s)://user:pass@host:8123/db "
        "for a ClickHouse server.",
    )
    cluster: str | None = Field(
        None,
        description="Name of the ClickHouse cluster (remote_servers) the store's server belongs to: tables "
        "are made ON CLUSTER, replicated per shard and sharded behind Distributed tables (see docs/clickhouse.md).",
    )
    role: Role = Field(
        "all",
        description="What this process runs: ingest (OTLP receivers, WAL, inserts, capture; run several), "
        "query (API and UI; run several), worker (service graph, anomalies, incidents, alerts, retention, "
        "reports; run exactly one), or all of them. Split roles need a ClickHouse server (--store http://…).",
    )
    host: str = Field("127.0.0.1", description="Address every listener binds to.")
    otlp_grpc_port: int = Field(4317, description="OTLP/gRPC port; 0 switches the gRPC receiver off.")
    otlp_http_port: int = Field(4318, description="OTLP/HTTP port; 0 switches the HTTP receiver off.")
    http_port: int = Field(8080, description="Port of the API and the web UI.")
    ingest_token: str | None = Field(None, description="Bearer token OTLP clients must send (off if unset).")
    api_token: str | None = Field(
        None, description="A static admin bearer token for scripts (unset: none); setting it turns auth on."
    )
    auth: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Users, roles and sign-in: on, off, or auto (on where --host is not a loopback "
        "address or --api-token is set; off otherwise).",
    )
    admin_password: str | None = Field(
        None,
        description="Password of the first admin, created at the first start with auth on (unset: a random "
        "one, printed once). Prefer the variable to the flag, which other local users can see.",
    )
    max_request_mib: float = Field(
        20.0, description="Largest OTLP request body, after decompression, in MiB (the Collector's default)."
    )
    max_memory_mib: float = Field(
        1024.0,
        description="Memory the whole process may use, in MiB: bounds the embedded engine (its limit and "
        "caches), insert batches and acknowledged data waiting for the store; past it receivers answer "
        "429/503 (see docs/performance-ingest.md).",
    )
    max_pending_mib: float | None = Field(
        None,
        description="Acknowledged data waiting for the store, in MiB (default: an eighth of --max-memory-mib); "
        "past it receivers answer 429/503.",
    )
    flush_interval_s: float = Field(0.5, description="Longest wait before buffered data is inserted (seconds).")
    flush_rows: int = Field(
        50_000,
        description="Rows that trigger an insert before the interval ends (bigger: fewer parts, more memory).",
    )
    insert_streams: int = Field(
        1,
        ge=1,
        le=16,
        description="Inserts written side by side, each a batch of consecutive requests on its own connection "
        "(ClickHouse flattens a batch on one core; see docs/performance.md).",
    )
    wal_segment_mib: int = Field(64, description="Size at which a WAL segment file is closed and a new begun.")
    decoder: Literal["native", "python"] = Field(
        "native",
        description="Who flattens OTLP traces and logs into rows: ClickHouse itself (native, fast) "
        "or Python (for servers older than 24.10, which lack inline protobuf schemas).",
    )
    servicegraph_wait_s: float = Field(
        10.0, description="How long past a minute's end the service graph waits for late spans before pairing it."
    )
    user_client: str = Field("user", description="Name of the client node for requests entering at root spans.")
    slo_error_rate: float = Field(
        0.05,
        description="Error rate (0.05 = 5%) above which a service or edge is critical; degraded above a fifth of it.",
    )
    slo_latency_ms: float = Field(500.0, description="p95 latency above which a service or edge is degraded (ms).")
    demo: bool = Field(False, description="Also run the demo shop against this server.")
    alerts_file: Path | None = Field(
        None, description="YAML file of alert rules and channels (kept in version control; re-read when it changes)."
    )
    alert_interval_s: float = Field(15.0, gt=0, description="How often alert rules are evaluated (seconds).")
    public_url: str | None = Field(
        None, description="kokanee's address as notification links should show it (default: http://HOST:HTTP_PORT)."
    )
    capture: str = Field(
        "local",
        description="Where raw OTLP capture is kept: local (DATA_DIR/capture), a folder, file:///path or "
        "s3://bucket/prefix (AWS credentials from the standard variables); off switches capture off.",
    )
    capture_endpoint: str | None = Field(
        None, description="S3 endpoint URL for MinIO or another S3 API (unset: AWS's own)."
    )
    capture_sample: str = Field(
        "traces=1,logs=1,metrics=1",
        description="Fraction of requests captured per signal, e.g. traces=0.1,logs=1; a signal left out "
        "or at 0 is not captured.",
    )
    capture_segment_mib: float = Field(16.0, description="Size (uncompressed) at which a capture segment closes.")
    capture_segment_s: float = Field(60.0, description="Longest a capture segment stays open (seconds).")
    capture_retention: Path | None = Field(
        None, description="TOML file of retention policies for captured segments and tables (see docs/capture.md)."
    )
    ai_config: Path | None = Field(
        None,
        description="TOML file of LLM providers and per-task model routes (see docs/ai.md); without it "
        "KOKANEE_OPENAI_BASE_URL / KOKANEE_ANTHROPIC_API_KEY configure one provider each.",
    )

    @field_validator("otlp_grpc_port", "otlp_http_port", "http_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError("must be a port number between 0 and 65535")
        return v

    @field_validator("flush_interval_s", "servicegraph_wait_s", "alert_interval_s", "capture_segment_s", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> Any:
        # Durations in seconds also take the one duration grammar: "500ms", "1m30s" (kokanee.store.timeparse).
        return duration_seconds(v) if isinstance(v, str) else v

    @field_validator("max_request_mib", "max_pending_mib", "flush_interval_s", "slo_error_rate", "slo_latency_ms")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("max_memory_mib")
    @classmethod
    def _memory(cls, v: float) -> float:
        if v < MIN_MEMORY_MIB:
            raise ValueError(f"must be at least {MIN_MEMORY_MIB} (the interpreter, chDB's code and a minimal engine)")
        return v

    @field_validator("capture")
    @classmethod
    def _capture(cls, v: str) -> str:
        if v not in ("off", "local") and not v.startswith(("s3://", "file:///", "/", "./")) and "://" in v:
            raise ValueError("must be off, local, a folder, file:///path or s3://bucket/prefix")
        if v.startswith("s3://") and not v[len("s3://") :].split("/")[0]:
            raise ValueError("an S3 URL needs a bucket: s3://bucket/prefix")
        return v

    @field_validator("capture_sample")
    @classmethod
    def _capture_sample(cls, v: str) -> str:
        parse_sample(v)
        return v

    @field_validator("capture_retention")
    @classmethod
    def _capture_retention(cls, v: Path | None) -> Path | None:
        from kokanee.capture.retention import load_policies

        load_policies(v)  # a bad policy file stops the start with its problem named
        return v

    @field_validator("capture_segment_mib", "capture_segment_s")
    @classmethod
    def _capture_positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("ai_config")
    @classmethod
    def _ai_config(cls, v: Path | None) -> Path | None:
        from kokanee.ai.config import load_ai_config

        if v is not None:
            load_ai_config(v)  # AiConfigError is a ValueError naming the key
        return v

    @model_validator(mode="after")
    def _demo_role(self) -> ServeConfig:
        if self.demo and self.role != "all":
            raise ValueError("the demo runs only with role all (it needs receivers, the API and the jobs)")
        return self

    @model_validator(mode="after")
    def _auth_with_token(self) -> ServeConfig:
        if self.auth == "off" and self.api_token:
            raise ValueError("auth off leaves the API open, so --api-token would guard nothing: drop one of them")
        return self

    @model_validator(mode="after")
    def _distinct_ports(self) -> ServeConfig:
        ports = [p for p in (self.otlp_grpc_port, self.otlp_http_port, self.http_port) if p]
        if len(ports) != len(set(ports)):
            raise ValueError("otlp_grpc_port, otlp_http_port and http_port must differ")
        return self

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError("must be a cluster name as the servers' remote_servers spell it (letters, digits, _)")
        return v

    @model_validator(mode="after")
    def _cluster_needs_server(self) -> ServeConfig:
        if self.cluster and not self.store.startswith(("http://", "https://")):
            raise ValueError("cluster needs a ClickHouse server: set store to http(s)://user:pass@host:8123/db")
        return self

    @property
    def store_url(self) -> str:
        return self.store or f"chdb://{(self.data_dir / 'store').resolve()}"

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mib * MIB)

    @property
    def memory(self) -> MemoryBudget:
        return MemoryBudget.for_cap(self.max_memory_mib, self.max_pending_mib)

    @property
    def max_pending_bytes(self) -> int:
        return self.memory.pending_bytes


def parse_sample(text: str) -> dict[str, float]:
    """`traces=0.1,logs=1` → {"traces": 0.1, "logs": 1.0}; ValueError naming the bad part."""
    fractions: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        signal, _, value = part.partition("=")
        signal = signal.strip()
        if signal not in ("traces", "logs", "metrics"):
            raise ValueError(f"{part!r}: the signal must be traces, logs or metrics")
        try:
            fraction = float(value) if value.strip() else 1.0
        except ValueError:
            raise ValueError(f"{part!r}: the fraction must be a number between 0 and 1") from None
        if not 0 <= fraction <= 1:
            raise ValueError(f"{part!r}: the fraction must be between 0 and 1")
        fractions[signal] = fraction
    return fractions


def load_config(values: dict[str, Any], toml_path: Path | None = None) -> ServeConfig:
    """Merges a TOML file (keys as in ServeConfig) under explicitly given values, and validates."""
    merged: dict[str, Any] = {}
    if toml_path is not None:
        try:
            merged.update(tomllib.loads(toml_path.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{toml_path}: {e}") from e
    merged.update({k: v for k, v in values.items() if v is not None})
    try:
        return ServeConfig(**merged)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors())
        raise ConfigError(problems) from e
