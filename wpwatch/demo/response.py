"""One HTTP answer as the demo site produces it, before any socket sees it."""

from __future__ import annotations

import json
from typing import Any, Protocol


class Response:
    """One HTTP answer: status, header list (repeats allowed) and body bytes."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ):
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class RequestHeaders(Protocol):
    """The request headers a site reads: a lookup by name.

    A ``dict``, or the case-insensitive message ``http.server`` parses.
    """

    def get(self, name: str, /) -> str | None: ...
