"""Where segments live: a local folder or any S3 API (AWS, MinIO, moto), named by URL.

file:///var/lib/kokanee/capture     a folder
s3://bucket/prefix                  S3; credentials from the standard AWS variables,
                                    a custom endpoint (MinIO) from `endpoint`
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class ObjectStoreError(RuntimeError):
    """The object store failed (unreachable, no bucket, refused): retried by callers."""


class ObjectStore(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ObjectStoreError(f"key {key!r} leaves the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            raise ObjectStoreError(f"{self.url}: cannot write {key}: {e}") from e

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as e:
            raise ObjectStoreError(f"{self.url}: cannot read {key}: {e}") from e

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class S3ObjectStore:
    def __init__(self, bucket: str, prefix: str, endpoint: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint = endpoint
        # Fail fast and let the uploader's own backoff retry: a dead store must not block a thread.
        config = Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"})
        self.client: Any = boto3.client("s3", endpoint_url=endpoint or None, config=config)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as e:  # botocore raises many types; all mean "not stored now"
            raise ObjectStoreError(f"{self.url}: cannot write {key}: {e}") from e

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as e:
            raise ObjectStoreError(f"{self.url}: cannot read {key}: {e}") from e
        return body

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as e:
            raise ObjectStoreError(f"{self.url}: cannot delete {key}: {e}") from e


def open_object_store(url: str, endpoint: str | None = None) -> ObjectStore:
    """The store a URL names; ValueError for URLs that name none."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"{url!r}: an S3 URL needs a bucket (s3://bucket/prefix)")
        return S3ObjectStore(parts.netloc, parts.path, endpoint)
    if parts.scheme == "file":
        return LocalObjectStore(Path(parts.path))
    if not parts.scheme and url:
        return LocalObjectStore(Path(url))
    raise ValueError(f"{url!r}: capture location must be s3://bucket/prefix, file:///path or a folder")


class Locations:
    """Object stores by URL, opened once: segments name the store that holds them."""

    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = endpoint
        self._stores: dict[str, ObjectStore] = {}

    def add(self, store: ObjectStore) -> ObjectStore:
        self._stores[store.url] = store
        return store

    def get(self, url: str) -> ObjectStore:
        if url not in self._stores:
            self._stores[url] = open_object_store(url, self.endpoint)
        return self._stores[url]
