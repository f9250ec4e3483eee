"""The only module that imports the `anthropic` SDK.

One AsyncAnthropic client per process (per event loop), pointed at the configured endpoint: the
real API when ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL is set, the embedded local model otherwise.
"""

import asyncio
import json
import logging

import anthropic
import httpx2
from django.conf import settings

log = logging.getLogger(__name__)

# What can go wrong while a reply streams: API errors (including an SSE `error` event),
# transport errors mid-body (a cut connection), and our own stall timeout.
STREAM_ERRORS: tuple[type[BaseException], ...] = (anthropic.APIError, httpx2.TransportError, TimeoutError)

_client: anthropic.AsyncAnthropic | None = None
_client_loop: asyncio.AbstractEventLoop | None = None


def get_client() -> anthropic.AsyncAnthropic:
    """The process's client. A new event loop (tests) gets a new client; httpx pools are per loop."""
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client_loop is not loop:
        if settings.CHAT_USE_LOCAL_MODEL:
            base_url, api_key = settings.CHAT_LOCAL_MODEL_URL, "local"
        else:
            base_url = settings.ANTHROPIC_BASE_URL or None
            api_key = settings.ANTHROPIC_API_KEY or "unset"
        _client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=settings.CHAT_API_MAX_RETRIES
        )
        _client_loop = loop
    return _client


async def open_stream(request: dict):
    """Start a streamed reply. Returns (event iterator, request id).

    The SDK retries 429/5xx before the first byte, honouring `retry-after`.
    """
    stream = await get_client().messages.create(**request, stream=True)
    return stream, stream.response.headers.get("request-id", "")


async def count_tokens(request: dict) -> int:
    """Input tokens of a request, by the endpoint's count_tokens; a rough local estimate (logged)
    when that fails."""
    fields = {
        key: request[key] for key in ("model", "messages", "system", "tools", "thinking") if key in request
    }
    try:
        return (await get_client().messages.count_tokens(**fields)).input_tokens
    except STREAM_ERRORS as exc:
        log.warning("count_tokens failed (%s); estimating locally", type(exc).__name__)
        return estimate_tokens(fields)


def estimate_tokens(fields: dict) -> int:
    """About four characters of JSON per token: rough, but never zero for real content."""
    return len(json.dumps(fields, ensure_ascii=False)) // 4 + 1


async def list_models() -> list:
    """The endpoint's models (first page of 100), newest first."""
    page = await get_client().models.list(limit=100)
    return list(page.data)


# By the API's error type; an `error` event mid-stream arrives on an HTTP 200, so the type decides.
_ERROR_MESSAGES = {
    "invalid_request_error": "The API rejected the request as invalid",
    "authentication_error": "The API key is invalid",
    "permission_error": "The API key is not allowed to use this model or feature",
    "not_found_error": "The model or endpoint was not found",
    "request_too_large": "The conversation is too large for the API",
    "rate_limit_error": "The API is rate limiting this instance; try again shortly",
    "api_error": "The API had an internal error",
    "overloaded_error": "The API is overloaded; try again shortly",
}
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def describe_error(exc: BaseException) -> tuple[str, str]:
    """A human message and the request id (if any) for an error raised while streaming."""
    if isinstance(exc, TimeoutError):
        return "The reply stalled: no data arrived in time", ""
    if isinstance(exc, anthropic.APIStatusError):
        error = _error_body(exc)
        kind = error.get("type") or _STATUS_TYPES.get(exc.status_code, "api_error")
        text = _ERROR_MESSAGES.get(kind, "The API refused the request")
        detail = str(error.get("message", ""))[:300]
        return (f"{text} ({detail})" if detail else text), exc.request_id or ""
    if isinstance(exc, anthropic.APIConnectionError):
        return "Could not reach the API", ""
    if isinstance(exc, anthropic.APIError):
        return f"The API sent an error: {exc.message}", ""
    return "The connection to the API was cut mid-reply", ""


def _error_body(exc: anthropic.APIStatusError) -> dict:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    return error if isinstance(error, dict) else {}
