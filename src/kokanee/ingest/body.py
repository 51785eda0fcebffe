"""Request bodies under a size limit: read in chunks, inflated without ever holding more than the limit.

A gzip bomb (a few KiB that inflate to GiBs) is refused once the inflated output passes the limit,
before the rest is inflated.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator


class BodyError(ValueError):
    """The body cannot be used; `status` is the HTTP answer (400, 413, 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def too_large(limit: int, what: str = "request body") -> BodyError:
    return BodyError(413, f"{what} exceeds the limit of {limit} bytes")


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Joins streamed chunks (chunked transfer included), failing as soon as they pass `limit`."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Undoes `Content-Encoding` (identity, gzip, deflate), refusing output larger than `limit`."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, limit, "gzip")
    if encoding == "deflate":
        # HTTP's "deflate" is zlib-wrapped, but many clients send raw deflate; accept both.
        wbits = zlib.MAX_WBITS if body[:1] and (body[0] & 0x0F) == 8 else -zlib.MAX_WBITS
        try:
            return _inflate(body, wbits, limit, "deflate")
        except BodyError as e:
            if e.status != 400 or wbits < 0:
                raise
            return _inflate(body, -zlib.MAX_WBITS, limit, "deflate")
    raise BodyError(415, f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or none")


def _inflate(body: bytes, wbits: int, limit: int, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as e:
        raise BodyError(400, f"body is not valid {name}: {e}") from e
    if len(out) > limit or inflater.unconsumed_tail:
        raise too_large(limit, f"{name}-decompressed body")
    if not inflater.eof:
        raise BodyError(400, f"body is not valid {name}: the stream is truncated")
    return out
