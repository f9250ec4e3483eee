"""The scripts a test enqueues, each what the fake answers one Messages request with."""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass
from typing import Any

from aiohttp import web

from fakes.server_tools import GroundedReply
from fakes.wire import error_response

DEFAULT_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

# Used when a streaming-only failure (SSEError) meets a non-streaming request.
_STATUS_FOR_ERROR_TYPE: dict[str, int] = {v: k for k, v in DEFAULT_ERROR_TYPES.items()}


_CHUNK_RE = re.compile(r"\s*\S+\s*|\s+")


def split_chunks(text: str) -> list[str]:
    """Split into word-ish tokens keeping all whitespace, so ``"".join(result) == text``."""
    return _CHUNK_RE.findall(text)


@dataclass
class Reply:
    """A normal assistant message (streamed when the request has ``"stream": true``)."""

    text: str = ""
    _: KW_ONLY
    chunks: list[str] | None = None  # default: split_chunks(text)
    thinking: str | None = None
    thinking_signature: str = "sig-fake"
    stop_reason: str = "end_turn"
    input_tokens: int | None = None
    output_tokens: int | None = None
    # None: the server's default_tokens_per_second.
    tokens_per_second: float | None = None
    first_delay: float = 0.0
    ping_every: int | None = None
    # During first_delay, a ping every this many seconds (the API keeps a quiet stream alive so).
    ping_interval: float | None = None
    request_id: str | None = None
    # A tool call after the text: {"id": ..., "name": ..., "input": {...}}; pair with stop_reason="tool_use".
    tool_use: dict[str, Any] | None = None
    stop_sequence: str | None = None  # reported with stop_reason="stop_sequence"


@dataclass
class HttpError:
    """An HTTP error response with the real JSON error body."""

    status: int
    _: KW_ONLY
    error_type: str | None = None  # None: DEFAULT_ERROR_TYPES[status]
    message: str = "fake error"
    retry_after: float | None = None  # seconds, sent as the retry-after header
    request_id: str | None = None


@dataclass
class Cut:
    """Streams text deltas (all, or the first ``after_deltas``), then aborts the TCP connection.

    On a non-streaming request the connection is aborted before any response.
    """

    text: str = "partial text"
    _: KW_ONLY
    after_deltas: int | None = None
    tokens_per_second: float | None = None


@dataclass
class Stall:
    """Streams text deltas, then sends nothing for ``seconds`` (connection open), then ends properly.

    On a non-streaming request: waits ``seconds``, then returns the whole message.
    The wait ends early when the server stops.
    """

    text: str = "partial"
    _: KW_ONLY
    seconds: float = 3600
    tokens_per_second: float | None = None


@dataclass
class SSEError:
    """Streams text deltas, then an ``event: error`` and ends the response (no message_stop).

    On a non-streaming request: an HTTP error whose status matches ``error_type``.
    """

    text: str = "partial"
    _: KW_ONLY
    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    tokens_per_second: float | None = None


Script = Reply | HttpError | Cut | Stall | SSEError | GroundedReply  # GroundedReply: server_tools.py


def http_error_response(error: HttpError) -> web.Response:
    error_type = error.error_type or DEFAULT_ERROR_TYPES.get(
        error.status, "api_error" if error.status >= 500 else "invalid_request_error"
    )
    return error_response(
        error.status, error_type, error.message, request_id=error.request_id, retry_after=error.retry_after
    )


def unstreamed(script: SSEError) -> HttpError:
    """An SSEError met by a non-streaming request: the HTTP error of its type."""
    status = _STATUS_FOR_ERROR_TYPE.get(script.error_type, 500)
    return HttpError(status, error_type=script.error_type, message=script.message)


def echo(body: dict[str, Any]) -> Reply:
    """The answer when no script is queued."""
    return Reply("Echo: " + last_user_text(body))


def last_user_text(body: dict[str, Any]) -> str:
    """Text of the last user message's last text block ("" if there is none)."""
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            for block in reversed(content):
                if isinstance(block, dict) and block.get("type") == "text":
                    return str(block.get("text", ""))
        return ""
    return ""
