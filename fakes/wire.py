"""What every fake endpoint shares: ids, SSE event bytes, the JSON error body, and the records kept."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lowercased names
    body: dict[str, Any]  # {} for GET or unparseable bodies
    at: float  # time.monotonic() on arrival

    @classmethod
    def of(cls, request: web.Request, body: dict[str, Any], at: float | None = None) -> RecordedRequest:
        return cls(
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            at=time.monotonic() if at is None else at,
        )


@dataclass
class ReplyLog:
    """What the server actually sent for one message; appended when the response starts."""

    request_id: str
    text_sent: str = ""
    # time.monotonic() right after each text delta was written.
    delta_times: list[float] = field(default_factory=list)
    # The first content delta of any kind (thinking or text).
    first_delta_at: float | None = None


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def request_id_header() -> dict[str, str]:
    return {"request-id": new_id("req_")}


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def error_response(
    status: int,
    error_type: str,
    message: str,
    *,
    error_code: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> web.Response:
    """The real API's error: `{"type": "error", "error": {...}, "request_id"}` and its headers."""
    request_id = request_id or new_id("req_")
    headers = {"request-id": request_id}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    error: dict[str, Any] = {"type": error_type, "message": message}
    if error_code:
        error["details"] = {"error_code": error_code}
    return web.json_response(
        {"type": "error", "error": error, "request_id": request_id}, status=status, headers=headers
    )
