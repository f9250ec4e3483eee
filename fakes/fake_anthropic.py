"""A fake Anthropic Messages API server for tests and benchmarks.

It speaks the real HTTP + SSE wire format, so the real ``anthropic`` SDK parses
real bytes over a real socket (no respx, no mocks)::

    with FakeAnthropic() as fake:
        fake.enqueue(Reply("Hello world"), HttpError(529, retry_after=0))
        client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="test")
        ...
        fake.requests   # every request received (all paths), oldest first
        fake.replies    # one ReplyLog per streamed/returned message

The server is aiohttp on its own event loop in a daemon thread, so it works
from sync tests, async tests and benchmarks alike.

Scripts
-------
Each POST /v1/messages pops one script from a FIFO queue (``enqueue`` is
thread-safe). With an empty queue the answer is ``Reply("Echo: <text of the last
user message's last text block>")``.

``Reply``      a normal message (optionally with a thinking block first).
``HttpError``  an HTTP error with the real JSON error body and headers.
``Cut``        streams some text deltas, then aborts the TCP connection.
``Stall``      streams some text deltas, then goes silent for ``seconds``.
``SSEError``   streams some text deltas, then an ``event: error`` and ends.
``GroundedReply``  web search / web fetch / code execution server tool blocks and cited text
                   (fakes/server_tools.py).

``fake.files`` is the Files API (``/v1/files``): see fakes/files.py.

A request with ``tool_use`` or ``tool_result`` blocks but no ``tools`` is refused with a 400, before
any script is used, as the real API refuses it.

What the real SDK (anthropic 2.12.0 / httpx2) raises, as asserted by
tests/test_fakes.py:

* ``Cut``       -> ``httpx2.RemoteProtocolError`` ("peer closed connection without
                   sending complete message body (incomplete chunked read)"), raised
                   unwrapped while iterating: the SDK only wraps transport errors in
                   ``anthropic.APIConnectionError`` before the response has started.
* ``SSEError``  -> exactly ``anthropic.APIStatusError`` (not a subclass such as
                   OverloadedError: the HTTP status is 200, and the SDK picks the
                   class from the status code). ``.body`` holds the error JSON.
* ``HttpError(401)`` -> ``anthropic.AuthenticationError`` with ``.request_id``.

Streaming details
-----------------
Events are written as ``event: <name>\\ndata: <json>\\n\\n`` on a chunked
``text/event-stream`` response, each flushed as it is written. Order:
message_start, [thinking block], text block, message_delta, message_stop, with
a ``ping`` after every ``ping_every`` content deltas if asked. ``first_delay``
is slept once, just before the first content delta; ``tokens_per_second``
paces the gaps *between* consecutive content deltas (thinking and text), so
n deltas take (n - 1) / tps seconds.

Token usage (deterministic, not a real tokenizer)
-------------------------------------------------
* Without any ``cache_control`` in the request: ``input_tokens`` =
  ceil(len(all text in system + messages) / 4), at least 1, and both cache
  fields are 0. ``/v1/messages/count_tokens`` always returns this estimate.
* Prompt caching: the request prefix is walked in API order (tools, then
  system blocks, then each message's content blocks; string content counts as
  one text block). Each block costs ceil(len(json.dumps(block without
  cache_control, sort_keys=True)) / 4) tokens. Every block carrying
  ``cache_control`` ends a cacheable prefix, keyed by a hash of the model plus
  the exact JSON of that prefix (blocks without cache_control, tagged with
  their section/role). Then:
    - cache_read_input_tokens = tokens of the longest marked prefix already cached;
    - cache_creation_input_tokens = tokens of the last marked prefix minus the
      cache read (all marked prefixes are then stored);
    - input_tokens = tokens after the last breakpoint (may be 0).
  There is no minimum cacheable length and no TTL; ``reset()`` empties the cache.
  HttpError requests do not touch the cache.
* A script's explicit ``input_tokens`` replaces input_tokens only (the cache
  fields are still simulated). ``output_tokens`` defaults to the number of
  text chunks.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import json
import math
import re
import threading
import time
import uuid
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Self

from aiohttp import web

from fakes import server_tools
from fakes.files import FakeFiles
from fakes.server_tools import Cited, Code, EditFile, Fetch, GroundedReply, Output, Search

__all__ = [
    "Cited",
    "Code",
    "Cut",
    "EditFile",
    "Fetch",
    "GroundedReply",
    "Output",
    "Search",
    "FakeAnthropic",
    "HttpError",
    "RecordedRequest",
    "Reply",
    "ReplyLog",
    "SSEError",
    "Script",
    "Stall",
    "split_chunks",
]

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

DEFAULT_MODEL = "claude-sonnet-4-6"

MODELS: list[dict[str, str]] = [
    {
        "type": "model",
        "id": "claude-sonnet-4-6",
        "display_name": "Claude Sonnet 4.6",
        "created_at": "2025-01-01T00:00:00Z",
    },
    {
        "type": "model",
        "id": "claude-opus-4-8",
        "display_name": "Claude Opus 4.8",
        "created_at": "2025-01-01T00:00:00Z",
    },
    {
        "type": "model",
        "id": "claude-haiku-4-5",
        "display_name": "Claude Haiku 4.5",
        "created_at": "2025-01-01T00:00:00Z",
    },
]


# --------------------------------------------------------------------------- scripts


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


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lowercased names
    body: dict[str, Any]  # {} for GET or unparseable bodies
    at: float  # time.monotonic() on arrival


@dataclass
class ReplyLog:
    """What the server actually sent for one message; appended when the response starts."""

    request_id: str
    text_sent: str = ""
    # time.monotonic() right after each text delta was written.
    delta_times: list[float] = field(default_factory=list)
    # The first content delta of any kind (thinking or text).
    first_delta_at: float | None = None


# --------------------------------------------------------------------------- helpers

_CHUNK_RE = re.compile(r"\s*\S+\s*|\s+")


def split_chunks(text: str) -> list[str]:
    """Split into word-ish tokens keeping all whitespace, so ``"".join(result) == text``."""
    return _CHUNK_RE.findall(text)


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _collect_text(value: Any, out: list[str]) -> None:
    """Gather every string that is text content: plain strings, "text" fields, nested "content"."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_text(item, out)
    elif isinstance(value, dict):
        if isinstance(value.get("text"), str):
            out.append(value["text"])
        if "content" in value:
            _collect_text(value["content"], out)


def estimate_input_tokens(body: dict[str, Any]) -> int:
    parts: list[str] = []
    _collect_text(body.get("system"), parts)
    _collect_text(body.get("messages"), parts)
    return max(1, math.ceil(sum(len(p) for p in parts) / 4))


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


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def _prefix_blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The request's cacheable prefix in API order, each block tagged with its section/role."""
    blocks: list[tuple[str, dict[str, Any]]] = []
    blocks += [("tools", t) for t in body.get("tools") or [] if isinstance(t, dict)]
    system = body.get("system")
    if isinstance(system, str):
        blocks.append(("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        blocks += [("system", b) for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role"))
        content = message.get("content")
        if isinstance(content, str):
            blocks.append((role, {"type": "text", "text": content}))
        elif isinstance(content, list):
            blocks += [(role, b) for b in content if isinstance(b, dict)]
    return blocks


def _block_tokens(block: dict[str, Any]) -> int:
    return math.ceil(len(json.dumps(block, sort_keys=True)) / 4)


def _prefix_key(model: Any, prefix: list[tuple[str, dict[str, Any]]]) -> str:
    raw = json.dumps([model, prefix], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def _format_seconds(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------- server


@dataclass
class _Plan:
    """A script reduced to what gets sent."""

    text_chunks: list[str]
    thinking_chunks: list[str]
    signature: str
    stop_reason: str
    output_tokens: int
    tokens_per_second: float | None
    first_delay: float
    ping_every: int | None
    tool_use: dict[str, Any] | None = None
    stop_sequence: str | None = None


class _EventStream:
    """Writes SSE events to one response, pacing content deltas and filling its ReplyLog."""

    def __init__(
        self,
        server: FakeAnthropic,
        resp: web.StreamResponse,
        log: ReplyLog,
        plan: _Plan,
    ):
        self._server = server
        self._resp = resp
        self._log = log
        self._plan = plan
        self.deltas_sent = 0
        self.text_deltas_sent = 0

    async def event(self, name: str, data: dict[str, Any]) -> None:
        await self._resp.write(_sse(name, data))

    async def delta(self, index: int, delta: dict[str, Any]) -> None:
        plan = self._plan
        if self.deltas_sent == 0:
            await self._server._sleep(plan.first_delay)
        elif plan.tokens_per_second:
            await self._server._sleep(1 / plan.tokens_per_second)
        await self.event(
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": delta},
        )
        now = time.monotonic()
        if self._log.first_delta_at is None:
            self._log.first_delta_at = now
        if delta["type"] == "text_delta":
            self._log.text_sent += delta["text"]
            self._log.delta_times.append(now)
            self.text_deltas_sent += 1
        self.deltas_sent += 1
        if plan.ping_every and self.deltas_sent % plan.ping_every == 0:
            await self.event("ping", {"type": "ping"})

    async def thinking_block(self) -> None:
        """Block 0: thinking deltas, then the signature."""
        await self.event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        )
        for chunk in self._plan.thinking_chunks:
            await self.delta(0, {"type": "thinking_delta", "thinking": chunk})
        # The signature is not a generated token, so it is not paced.
        await self.event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": self._plan.signature},
            },
        )
        await self.event("content_block_stop", {"type": "content_block_stop", "index": 0})

    async def text_deltas(self, index: int, limit: int | None = None) -> None:
        await self.event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
        )
        for chunk in self._plan.text_chunks[:limit]:
            await self.delta(index, {"type": "text_delta", "text": chunk})

    async def tool_use_block(self, index: int, call: dict[str, Any]) -> None:
        """A tool_use block whose input arrives as input_json_delta pieces, like the real API."""
        block = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
        await self.event(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        )
        raw = call["input"] if isinstance(call["input"], str) else json.dumps(call["input"])
        third = max(1, len(raw) // 3)
        for start in range(0, len(raw), third):
            piece = {"type": "input_json_delta", "partial_json": raw[start : start + third]}
            await self.event(
                "content_block_delta", {"type": "content_block_delta", "index": index, "delta": piece}
            )
        await self.event("content_block_stop", {"type": "content_block_stop", "index": index})

    async def finish(self, index: int, output_tokens: int) -> None:
        await self.event("content_block_stop", {"type": "content_block_stop", "index": index})
        if self._plan.tool_use is not None:
            await self.tool_use_block(index + 1, self._plan.tool_use)
        await self.event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._plan.stop_reason, "stop_sequence": self._plan.stop_sequence},
                "usage": {"output_tokens": output_tokens},
            },
        )
        await self.event("message_stop", {"type": "message_stop"})


class FakeAnthropic:
    """The fake API server. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        default_tokens_per_second: float | None = None,
    ):
        self.host = host
        self.port = port
        self.default_tokens_per_second = default_tokens_per_second
        # Appended to by the server thread; reset() clears them in place so references stay valid.
        self.requests: list[RecordedRequest] = []
        self.replies: list[ReplyLog] = []
        self._queue: collections.deque[Script] = collections.deque()
        self._cache: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._bound_port: int | None = None
        self._startup_error: BaseException | None = None
        self.files = FakeFiles(self)  # /v1/files (fakes/files.py)

    # ----------------------------------------------------------------- public API

    @property
    def base_url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("FakeAnthropic is not running; call start() or use it as a context manager")
        return f"http://{self.host}:{self._bound_port}"

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """Only the POST /v1/messages requests (``requests`` holds every path)."""
        return [r for r in self.requests if r.path == "/v1/messages"]

    def enqueue(self, *scripts: Script) -> None:
        with self._lock:
            self._queue.extend(scripts)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.replies.clear()
            self._cache.clear()
            self.files.reset()

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("FakeAnthropic is already running")
        ready = threading.Event()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-anthropic", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeAnthropic did not start within 10 s")
        if self._startup_error is not None or self._bound_port is None:
            self._thread.join(5)
            self._thread = None
            # Anything but an OSError was already printed by the thread's excepthook.
            raise self._startup_error or RuntimeError("FakeAnthropic failed to start")
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._thread = None
            self._loop = None
            self._runner = None
            self._bound_port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- lifecycle (server thread)

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._startup())
        except OSError as exc:  # e.g. the port is taken; start() re-raises it
            self._startup_error = exc
            loop.close()
            return
        finally:
            ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _startup(self) -> None:
        self._closing = asyncio.Event()
        # The real API takes 32 MB message requests and 500 MB uploads; aiohttp's default is 1 MB.
        app = web.Application(client_max_size=512 * 2**20)
        app.router.add_post("/v1/messages", self._handle_messages)
        app.router.add_post("/v1/messages/count_tokens", self._handle_count_tokens)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_get("/v1/models/{model_id}", self._handle_model)
        self.files.add_routes(app.router)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        # handler_cancellation: like a real server, stop generating when the client hangs up.
        # shutdown_timeout: don't wait the default 60 s for in-flight streams on stop().
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self._bound_port = runner.addresses[0][1]

    async def _shutdown(self) -> None:
        assert self._closing is not None and self._runner is not None
        self._closing.set()  # wakes Stall / pacing sleeps so streams end promptly
        await self._runner.cleanup()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but return early once the server is stopping."""
        if seconds <= 0:
            return
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    # ----------------------------------------------------------------- bookkeeping

    async def _record(self, request: web.Request) -> dict[str, Any] | None:
        """Record the request; return its JSON body, or None if it is not a JSON object."""
        arrived = time.monotonic()
        raw = await request.read()
        body: dict[str, Any] | None = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            body = parsed if isinstance(parsed, dict) else None
        elif request.method == "GET":
            body = {}
        recorded = RecordedRequest(
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body if body is not None else {},
            at=arrived,
        )
        with self._lock:
            self.requests.append(recorded)
        return body

    def _next_script(self, body: dict[str, Any]) -> Script:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return Reply("Echo: " + last_user_text(body))

    def _simulate_usage(self, body: dict[str, Any]) -> dict[str, int]:
        """input / cache usage for a request; see the module docstring for the rules."""
        blocks = _prefix_blocks(body)
        breakpoints = [i for i, (_, block) in enumerate(blocks) if "cache_control" in block]
        if not breakpoints:
            return {
                "input_tokens": estimate_input_tokens(body),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
        clean = [(tag, _strip_cache_control(block)) for tag, block in blocks]
        cumulative = list(itertools.accumulate(_block_tokens(block) for _, block in clean))
        keys = {i: _prefix_key(body.get("model"), clean[: i + 1]) for i in breakpoints}
        with self._lock:
            hits = [i for i in breakpoints if keys[i] in self._cache]
            self._cache.update(keys.values())
        read = cumulative[hits[-1]] if hits else 0
        last = breakpoints[-1]
        return {
            "input_tokens": cumulative[-1] - cumulative[last],
            "cache_creation_input_tokens": cumulative[last] - read,
            "cache_read_input_tokens": read,
        }

    def _plan(self, script: Reply | Cut | Stall | SSEError) -> _Plan:
        tps = (
            script.tokens_per_second
            if script.tokens_per_second is not None
            else self.default_tokens_per_second
        )
        if isinstance(script, Reply):
            chunks = script.chunks if script.chunks is not None else split_chunks(script.text)
            return _Plan(
                text_chunks=chunks,
                thinking_chunks=split_chunks(script.thinking) if script.thinking is not None else [],
                signature=script.thinking_signature,
                stop_reason=script.stop_reason,
                output_tokens=script.output_tokens if script.output_tokens is not None else len(chunks),
                tokens_per_second=tps,
                first_delay=script.first_delay,
                ping_every=script.ping_every,
                tool_use=script.tool_use,
                stop_sequence=script.stop_sequence,
            )
        chunks = split_chunks(script.text)
        return _Plan(
            text_chunks=chunks,
            thinking_chunks=[],
            signature="",
            stop_reason="end_turn",
            output_tokens=len(chunks),
            tokens_per_second=tps,
            first_delay=0.0,
            ping_every=None,
        )

    # ----------------------------------------------------------------- handlers

    async def _handle_messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if body is None:
            return _error_response(HttpError(400, message="request body must be a JSON object"))
        if (missing := self.files.missing_file_error(body)) is not None:
            return missing
        if _tool_blocks(body) and not body.get("tools"):  # as the real API refuses it
            message = "Requests which include `tool_use` or `tool_result` blocks must define tools."
            return _error_response(HttpError(400, message=message))
        script = self._next_script(body)
        if isinstance(script, HttpError):
            return _error_response(script)
        if isinstance(script, SSEError) and not body.get("stream"):
            status = _STATUS_FOR_ERROR_TYPE.get(script.error_type, 500)
            return _error_response(HttpError(status, error_type=script.error_type, message=script.message))

        request_id = (isinstance(script, Reply | GroundedReply) and script.request_id) or _new_id("req_")
        usage = self._simulate_usage(body)
        if isinstance(script, Reply) and script.input_tokens is not None:
            usage["input_tokens"] = script.input_tokens
        message = {
            "id": _new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or DEFAULT_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }
        if isinstance(script, GroundedReply):
            if server_tools.uses_container(script):  # the request's container, else a new one
                script.container = body.get("container") or _new_id("container_")
                message["container"] = {
                    "id": script.container,
                    "expires_at": server_tools.CONTAINER_EXPIRES_AT,
                }
                for output in server_tools.outputs(script):
                    self.files.add_produced(output.file_id, output.filename, output.mime_type, output.data)
            return await self._grounded(request, script, message, request_id, bool(body.get("stream")))
        plan = self._plan(script)
        if body.get("stream"):
            return await self._stream(request, script, plan, message, request_id)
        return await self._whole(request, script, plan, message, request_id)

    async def _stream(
        self,
        request: web.Request,
        script: Reply | Cut | Stall | SSEError,
        plan: _Plan,
        message: dict[str, Any],
        request_id: str,
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "request-id": request_id,
            }
        )
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        log = ReplyLog(request_id=request_id)
        with self._lock:
            self.replies.append(log)
        stream = _EventStream(self, resp, log, plan)
        text_index = 1 if isinstance(script, Reply) and script.thinking is not None else 0
        try:
            await stream.event("message_start", {"type": "message_start", "message": message})
            if text_index == 1:
                await stream.thinking_block()
            if isinstance(script, Cut):
                await stream.text_deltas(text_index, script.after_deltas)
                await _abort(request)
                return resp
            await stream.text_deltas(text_index)
            if isinstance(script, SSEError):
                error = {
                    "type": "error",
                    "error": {"type": script.error_type, "message": script.message},
                }
                await stream.event("error", error)
                return resp
            if isinstance(script, Stall):
                await self._sleep(script.seconds)
                await stream.finish(text_index, stream.text_deltas_sent)
                return resp
            await stream.finish(text_index, plan.output_tokens)
        except ConnectionResetError:
            pass  # the client hung up; nothing left to send
        return resp

    async def _whole(
        self,
        request: web.Request,
        script: Reply | Cut | Stall,
        plan: _Plan,
        message: dict[str, Any],
        request_id: str,
    ) -> web.StreamResponse:
        log = ReplyLog(request_id=request_id)
        with self._lock:
            self.replies.append(log)
        if isinstance(script, Cut):
            await _abort(request)
            return web.Response()  # never sent: the transport is gone
        # A non-streamed reply takes as long as generating it would.
        await self._sleep(plan.first_delay)
        if plan.tokens_per_second:
            steps = len(plan.thinking_chunks) + len(plan.text_chunks) - 1
            await self._sleep(max(0, steps) / plan.tokens_per_second)
        if isinstance(script, Stall):
            await self._sleep(script.seconds)
        content: list[dict[str, Any]] = []
        if isinstance(script, Reply) and script.thinking is not None:
            content.append(
                {
                    "type": "thinking",
                    "thinking": script.thinking,
                    "signature": plan.signature,
                }
            )
        text = "".join(plan.text_chunks)
        content.append({"type": "text", "text": text})
        log.text_sent = text
        message = {
            **message,
            "content": content,
            "stop_reason": plan.stop_reason,
            "usage": {**message["usage"], "output_tokens": plan.output_tokens},
        }
        return web.json_response(message, headers={"request-id": request_id})

    async def _grounded(
        self,
        request: web.Request,
        script: GroundedReply,
        message: dict[str, Any],
        request_id: str,
        streamed: bool,
    ) -> web.StreamResponse:
        """A reply with server tool blocks and citations (fakes/server_tools.py)."""
        with self._lock:
            self.replies.append(ReplyLog(request_id=request_id))
        if not streamed:
            usage = {
                **message["usage"],
                "output_tokens": server_tools.output_tokens(script),
                "server_tool_use": server_tools.server_tool_use(script),
            }
            whole = {**message, "content": server_tools.blocks(script), "stop_reason": script.stop_reason}
            return web.json_response({**whole, "usage": usage}, headers={"request-id": request_id})
        headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        resp = web.StreamResponse(headers={**headers, "request-id": request_id})
        resp.enable_chunked_encoding()
        await resp.prepare(request)

        async def write(name: str, data: dict[str, Any]) -> None:
            await resp.write(_sse(name, data))

        try:
            await write("message_start", {"type": "message_start", "message": message})
            await server_tools.stream(script, write)
        except ConnectionResetError:
            pass
        return resp

    async def _handle_count_tokens(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if body is None:
            return _error_response(HttpError(400, message="request body must be a JSON object"))
        if (missing := self.files.missing_file_error(body)) is not None:
            return missing
        return web.json_response(
            {"input_tokens": estimate_input_tokens(body)},
            headers={"request-id": _new_id("req_")},
        )

    async def _handle_models(self, request: web.Request) -> web.Response:
        await self._record(request)
        page = {
            "data": MODELS,
            "has_more": False,
            "first_id": MODELS[0]["id"],
            "last_id": MODELS[-1]["id"],
        }
        return web.json_response(page, headers={"request-id": _new_id("req_")})

    async def _handle_model(self, request: web.Request) -> web.Response:
        await self._record(request)
        model_id = request.match_info["model_id"]
        for model in MODELS:
            if model["id"] == model_id:
                return web.json_response(model, headers={"request-id": _new_id("req_")})
        return _error_response(HttpError(404, message=f"model: {model_id}"))

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        await self._record(request)
        return _error_response(HttpError(404, message=f"Not found: {request.method} {request.path}"))


def _tool_blocks(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    return any(
        isinstance(block, dict) and block.get("type") in ("tool_use", "tool_result")
        for message in (messages if isinstance(messages, list) else [])
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"]
    )


def _error_response(error: HttpError) -> web.Response:
    error_type = error.error_type or DEFAULT_ERROR_TYPES.get(
        error.status, "api_error" if error.status >= 500 else "invalid_request_error"
    )
    request_id = error.request_id or _new_id("req_")
    headers = {"request-id": request_id}
    if error.retry_after is not None:
        headers["retry-after"] = _format_seconds(error.retry_after)
    body = {
        "type": "error",
        "error": {"type": error_type, "message": error.message},
        "request_id": request_id,
    }
    return web.json_response(body, status=error.status, headers=headers)


async def _abort(request: web.Request) -> None:
    """Drop the TCP connection, without the chunked terminator, once written bytes have left."""
    transport = request.transport
    if transport is None:
        return
    # abort() discards anything still buffered, so let the kernel take it first.
    deadline = time.monotonic() + 1.0
    while transport.get_write_buffer_size() and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    transport.abort()
