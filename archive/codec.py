"""How the archive stores what it is given: packed JSON, raw bodies, hash keys.

A normalized post is kept as zlib-compressed canonical JSON; a response body
as zlib-compressed raw bytes, with the SHA-256 of the bytes as received. These
are the only encodings: every reader and writer of those columns goes through
here.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from core.values import canonical_json

_LEVEL = 6


def pack(obj: Any) -> bytes:
    """A JSON value as stored (``versions.normalized``): canonical JSON, compressed."""
    return zlib.compress(canonical_json(obj), _LEVEL)


def unpack(blob: bytes) -> Any:
    """The JSON value that :func:`pack` stored."""
    return json.loads(zlib.decompress(blob))


def pack_body(raw: bytes) -> bytes:
    """A response body as stored (``responses.body``): the bytes as received, compressed."""
    return zlib.compress(raw, _LEVEL)


def unpack_body(blob: bytes) -> bytes:
    """The bytes as received, from what :func:`pack_body` stored."""
    return zlib.decompress(blob)


def body_sha256(raw: bytes) -> str:
    """SHA-256 (hex) of a response body as received: the evidence hash."""
    return hashlib.sha256(raw).hexdigest()


def url_key(url: str) -> str:
    """SHA-256 (hex) of a URL: a fixed-size unique key for URLs of any length."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def headers_json(headers: Iterable[Sequence[str]]) -> str:
    """Response headers as stored: a JSON list of [name, value] in received order."""
    return json.dumps([list(h) for h in headers], ensure_ascii=False)


def fields_json(fields: Iterable[str]) -> str:
    """What an ``edited`` change says changed, as stored (``changes.fields``)."""
    return json.dumps(list(fields))


def fields_list(stored: str) -> list[str]:
    """The list that :func:`fields_json` stored."""
    return list(json.loads(stored))
