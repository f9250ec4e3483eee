"""The only module that imports the `anthropic` SDK.

One AsyncAnthropic client per process (per event loop: it lives on the loop's runtime), pointed at
the configured endpoint: the real API when ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL is set, the
embedded local model otherwise.

The SDK is imported on first use, not with this module: it takes over a second, and commands that
never call the API (check, migrate) should not pay for it. A server warms it in the background
(warm_up). Other modules reach its names through this module: `llm.STREAM_ERRORS` in an `except`,
`llm.anthropic` in tests (__getattr__ below).
"""

import contextlib
import functools
import json
import logging
import mimetypes
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from conversations.claude import local_model
from conversations.claude.pricing import Usage
from conversations.live import runtime

if TYPE_CHECKING:
    import anthropic

log = logging.getLogger(__name__)

# Callers catch what can go wrong calling the API (_api_errors) under a name saying what they were
# doing: `except llm.FILE_ERRORS`.
_ERROR_NAMES = {"STREAM_ERRORS", "FILE_ERRORS", "BATCH_ERRORS", "SKILL_ERRORS"}


def __getattr__(name: str):
    """The SDK's names, imported on first use: `anthropic` itself, and the error tuples."""
    if name == "anthropic":
        return _sdk()
    if name in _ERROR_NAMES:
        return _api_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _sdk():
    import anthropic

    return anthropic


@functools.cache
def _api_errors() -> tuple[type[BaseException], ...]:
    """What can go wrong while a reply streams or a file moves: API errors (including an SSE
    `error` event), transport errors mid-body (a cut connection), and our own stall timeout."""
    import httpx2

    return (_sdk().APIError, httpx2.TransportError, TimeoutError)


def warm_up() -> threading.Thread:
    """Import the SDK in a background thread, so that a server's first reply does not wait for it."""
    thread = threading.Thread(target=_api_errors, name="import-anthropic", daemon=True)
    thread.start()
    return thread


async def close() -> None:
    """Close this loop's client (a command that ran its own event loop), and forget it."""
    here = runtime.current()
    if here.client is not None:
        await here.client.close()
    here.client, here.client_config = None, ()


def get_client() -> "anthropic.AsyncAnthropic":
    """The process's client. A new event loop (tests) gets a new client; httpx pools are per loop.

    Made again when the settings it was made with change (tests point it elsewhere). The embedded
    model wants the key it was started with (local_model.api_key(), from the key file); a restarted
    model has a new one, and the next call makes a client with it.
    """
    here = runtime.current()
    if settings.CHAT_USE_LOCAL_MODEL:
        base_url, api_key = settings.CHAT_LOCAL_MODEL_URL, local_model.api_key() or "local"
    else:
        base_url, api_key = settings.ANTHROPIC_BASE_URL or None, settings.ANTHROPIC_API_KEY or "unset"
    config = (base_url, api_key, settings.CHAT_API_MAX_RETRIES)
    if here.client is None or here.client_config != config:
        # Our own HTTP client: the SDK's default one, garbage-collected after its event loop ended
        # (a test client's per-request loop), schedules its aclose() on whatever loop runs then,
        # where it fails ("Task exception was never retrieved"). A loop's client is closed by close().
        # The SDK's aiohttp transport (its `aiohttp` extra): streaming costs about half the CPU per
        # event of its default httpx one (bench/README.md), the same events and errors.
        sdk = _sdk()
        here.client = sdk.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=config[2],
            http_client=sdk.DefaultAioHttpClient(),
        )
        here.client_config = config
        _close_with_the_loop(here.client)
    return here.client


def _close_with_the_loop(client: "anthropic.AsyncAnthropic") -> None:
    """Close `client` when its event loop shuts down (asyncio.run, a test's loop, a request's loop
    under async_to_sync: each calls loop.shutdown_asyncgens()), or now if its loop ends without
    that: an aiohttp session never closed logs an error. A server's one loop keeps its client."""

    async def until_the_loop_ends():
        try:
            yield
        finally:
            await client.close()

    # Its first step registers it with the loop; the finished task keeps it (suspended) alive.
    keeper = until_the_loop_ends()
    runtime.current().background[f"close API client {id(client)}"] = runtime.detached(anext(keeper))


async def open_stream(request: dict):
    """Start a streamed reply. Returns (event iterator, request id).

    The SDK retries 429/5xx before the first byte, honouring `retry-after`. A request with
    `betas` (context management: compaction.py) goes through the SDK's beta messages.
    """
    messages = get_client().beta.messages if "betas" in request else get_client().messages
    stream = await messages.create(**request, stream=True)
    return stream, stream.response.headers.get("request-id", "")


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage  # what the call spent, whatever its text is worth
    request_id: str


async def complete_text(request: dict, timeout: float = 30) -> Completion:
    """A short, unstreamed call (a title, a summary): its answer's text, and its usage. No retries:
    the person can ask again."""
    message = await get_client().with_options(max_retries=0, timeout=timeout).messages.create(**request)
    return Completion(
        text="".join(block.text for block in message.content if block.type == "text"),
        usage=Usage().plus(usage_fields(message.usage)),
        request_id=message._request_id or "",
    )


async def count_tokens(request: dict) -> int:
    """Input tokens of a request, by the endpoint's count_tokens (its beta one for a request with
    betas: connectors' servers and toolsets, context edits); a rough local estimate (logged) when
    that fails."""
    counted = (
        "model",
        "messages",
        "system",
        "tools",
        "thinking",
        "mcp_servers",
        "context_management",
        "betas",
    )
    fields = {key: request[key] for key in counted if key in request}
    messages = get_client().beta.messages if "betas" in fields else get_client().messages
    try:
        return (await messages.count_tokens(**fields)).input_tokens
    except _api_errors() as exc:
        log.warning("count_tokens failed (%s); estimating locally", type(exc).__name__)
        return estimate_tokens(fields)


def estimate_tokens(fields: dict) -> int:
    """About four characters of JSON per token: rough, but never zero for real content."""
    return len(json.dumps(fields, ensure_ascii=False)) // 4 + 1


# --- the Files API (GA in this SDK: `client.files`, no beta header) ---------------------------------

FILE_TIMEOUT = 60.0


async def upload_file(name: str, data: bytes, media_type: str) -> str:
    """Upload one file to the endpoint's Files API; its file_id."""
    metadata = await get_client().files.upload(file=(name, data, media_type), timeout=FILE_TIMEOUT)
    return metadata.id


async def file_metadata(file_id: str):
    """A file's FileMetadata (name, MIME type, size) from the Files API."""
    return await get_client().files.retrieve_metadata(file_id, timeout=FILE_TIMEOUT)


async def download_file(file_id: str) -> bytes:
    """A file's bytes from the Files API (only files code execution made can be downloaded)."""
    response = await get_client().files.download(file_id, timeout=FILE_TIMEOUT)
    return await response.read()


async def delete_file(file_id: str) -> None:
    """Delete a file from the Files API; one it no longer has counts as deleted."""
    try:
        await get_client().files.delete(file_id, timeout=FILE_TIMEOUT)
    except _sdk().NotFoundError:
        pass


def is_missing_file(exc: BaseException, file_ids: set[str]) -> bool:
    """The request failed because the API no longer has one of its files: a 404 (the SDK's
    FileExpiredError is one), or a 400 that names one of them."""
    sdk = _sdk()
    if not file_ids or not isinstance(exc, sdk.APIStatusError):
        return False
    if isinstance(exc, sdk.NotFoundError):
        return True
    message = str(_error_body(exc).get("message", ""))
    return isinstance(exc, sdk.BadRequestError) and any(file_id in message for file_id in file_ids)


# --- Message Batches (workbench/ runs "as batch": half price, results within 24 h) -------------------


async def batch_create(requests: list[dict]):
    """Send `requests` ({"custom_id", "params"}) as one Message Batch; its MessageBatch."""
    return await get_client().messages.batches.create(requests=requests, timeout=FILE_TIMEOUT)


async def batch_retrieve(batch_id: str):
    return await get_client().messages.batches.retrieve(batch_id, timeout=FILE_TIMEOUT)


async def batch_cancel(batch_id: str):
    return await get_client().messages.batches.cancel(batch_id, timeout=FILE_TIMEOUT)


async def batch_results(batch_id: str) -> list:
    """An ended batch's MessageBatchIndividualResponse lines (the JSONL), in no set order."""
    return [
        line async for line in await get_client().messages.batches.results(batch_id, timeout=FILE_TIMEOUT)
    ]


async def list_models() -> list:
    """The endpoint's models (first page of 100), newest first."""
    page = await get_client().models.list(limit=100)
    return list(page.data)


# --- Skills (the code execution container's own skills; conversations/skills/) ------------------------

SKILLS_BETA = "skills-2025-10-02"


async def skill_create(title: str, files: list[tuple[str, bytes]]) -> tuple[str, str]:
    """Create a skill from its files, each (path under one top directory, bytes): its skill_id and
    its first version."""
    skill = await get_client().beta.skills.create(
        display_name=title, files=_skill_files(files), betas=[SKILLS_BETA], timeout=FILE_TIMEOUT
    )
    return skill.id, _version(skill, "latest_version", skill.latest_version_id)


async def skill_version_create(skill_id: str, files: list[tuple[str, bytes]]) -> str:
    """Upload a new version of a skill (its whole folder again); the version."""
    version = await get_client().beta.skills.versions.create(
        skill_id, files=_skill_files(files), betas=[SKILLS_BETA], timeout=FILE_TIMEOUT
    )
    return _version(version, "version", version.id)


async def skill_delete(skill_id: str) -> None:
    """Delete a skill: its versions first, as the API requires. What the API no longer has counts
    as deleted."""
    skills, options = get_client().beta.skills, {"betas": [SKILLS_BETA], "timeout": FILE_TIMEOUT}
    gone = _sdk().NotFoundError
    try:
        versions = [_version(v, "version", v.id) async for v in skills.versions.list(skill_id, **options)]
    except gone:
        return
    for version in versions:
        with contextlib.suppress(gone):
            await skills.versions.delete(version, skill_id=skill_id, **options)
    with contextlib.suppress(gone):
        await skills.delete(skill_id, **options)


def _skill_files(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes, str]]:
    return [(path, data, mimetypes.guess_type(path)[0] or "application/octet-stream") for path, data in files]


def _version(item, legacy: str, version_id: str) -> str:
    """How the skills beta addresses a version: by its Unix-epoch `version` (`latest_version` on a
    skill), a field SDK 2.12's types no longer declare; by its version id without it."""
    return str((item.model_extra or {}).get(legacy) or version_id)


# By the API's error type; an `error` event mid-stream arrives on an HTTP 200, so the type decides.
# {server} names who answered: "the Claude API" or "the local model".
_ERROR_MESSAGES = {
    "invalid_request_error": "{Server} rejected the request as invalid",
    "authentication_error": "The API key is invalid",
    "permission_error": "The API key is not allowed to use this model or feature",
    "not_found_error": "The model or endpoint was not found",
    "request_too_large": "The conversation is too large for {server}",
    "rate_limit_error": "{Server} is rate limiting this instance; try again shortly",
    "api_error": "{Server} had an internal error",
    "overloaded_error": "{Server} is overloaded; try again shortly",
}


@functools.cache
def _compaction_errors() -> dict[type, str]:
    """The summary of a long conversation (compaction.py) refused, by the SDK's error classes."""
    types = _sdk().types
    return {
        types.CompactionUnavailableError: "{Server} could not summarize the earlier messages now; try again",
        types.CompactionBlockMisplacedError: "The summary of earlier messages is not where {server} wants it",
        types.CompactionBlockAmbiguousError: "The chat holds more than one summary {server} could start from",
        types.CompactionContentMismatchError: "The summary of earlier messages was changed after it was made",
        types.CompactionSignatureInvalidError: "{Server} did not recognise the summary of earlier messages",
        types.CompactionIncompleteTurnError: "The summary cannot be made while a tool call is unanswered",
        types.CompactionNothingToSummarizeError: "There is nothing yet to summarize in this conversation",
        types.CompactionTooManyToolReferencesError: "The earlier messages use too many tools to summarize",
        types.CompactionToolChangesMismatchError: "The summary's tools no longer match this conversation's",
    }


@functools.cache
def _class_types() -> dict[type, str]:
    """When an error has no body to name its type, its class does."""
    sdk = _sdk()
    return {
        sdk.BadRequestError: "invalid_request_error",
        sdk.AuthenticationError: "authentication_error",
        sdk.PermissionDeniedError: "permission_error",
        sdk.NotFoundError: "not_found_error",
        sdk.RequestTooLargeError: "request_too_large",
        sdk.RateLimitError: "rate_limit_error",
        sdk.OverloadedError: "overloaded_error",
    }


def server_name() -> str:
    return "the local model" if settings.CHAT_USE_LOCAL_MODEL else "the Claude API"


def describe_error(exc: BaseException) -> tuple[str, str]:
    """A human message naming the model server, and the request id (if any), for an error raised
    while streaming."""
    server = server_name()
    names = {"server": server, "Server": server[0].upper() + server[1:]}
    if isinstance(exc, TimeoutError):
        return "The reply stalled: no data arrived from {server} in time".format(**names), ""
    sdk = _sdk()
    if isinstance(exc, sdk.APIStatusError):
        error, cls = _error_body(exc), type(exc)
        kind = error.get("type") or _class_types().get(cls, "api_error")
        text = _compaction_errors().get(cls) or _ERROR_MESSAGES.get(kind, "{Server} refused the request")
        text = text.format(**names)
        detail = str(error.get("message", ""))[:300]
        return (f"{text} ({detail})" if detail else text), exc.request_id or ""
    if isinstance(exc, sdk.APIConnectionError):
        return "Could not reach {server}: it refused or dropped the connection".format(**names), ""
    if isinstance(exc, sdk.APIError):
        return "{Server} sent an error: {message}".format(message=exc.message, **names), ""
    return "The connection to {server} was cut mid-reply".format(**names), ""


def _error_body(exc: "anthropic.APIStatusError") -> dict:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    return error if isinstance(error, dict) else {}


def usage_fields(usage) -> dict[str, int]:
    """The token counts an SDK usage object carries (message_start or message_delta)."""
    fields = {
        name: value
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
        if (value := getattr(usage, name, None)) is not None
    }
    searches = getattr(usage, "server_tool_use", None)  # web search and fetch (web.py)
    if searches is not None:
        fields["web_search_requests"] = searches.web_search_requests or 0
        fields["web_fetch_requests"] = searches.web_fetch_requests or 0
    split = getattr(usage, "cache_creation", None)  # by TTL, when the API reports it
    if split is not None and split.ephemeral_1h_input_tokens is not None:
        fields["cache_creation_1h_input_tokens"] = split.ephemeral_1h_input_tokens
    return fields
