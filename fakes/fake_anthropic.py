"""A fake Anthropic Messages API server for tests and benchmarks.

It speaks the real HTTP + SSE wire format, so the real ``anthropic`` SDK parses
real bytes over a real socket (no respx, no mocks)::

    with FakeAnthropic() as fake:
        fake.enqueue(Reply("Hello world"), HttpError(529, retry_after=0))
        client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="test")
        ...
        fake.requests   # every request received (all paths), oldest first
        fake.replies    # one ReplyLog per streamed/returned message

The server is aiohttp on its own event loop in a daemon thread (fakes/loop_thread.py), so it
works from sync tests, async tests and benchmarks alike. This module routes the requests; the
scripts are in fakes/scripts.py, their bytes on the wire in fakes/streaming.py, the token usage in
fakes/tokens.py, and what every endpoint shares (ids, errors, records) in fakes/wire.py.

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
                   (fakes/server_tools.py), MCP connector calls (fakes/mcp.py) and tool searches
                   (fakes/tool_search.py).

``fake.files`` is the Files API (``/v1/files``): see fakes/files.py. ``fake.batches`` is the
Message Batches API: see fakes/batches.py. ``fake.skills`` is the skills API (``/v1/skills`` and
versions; ``fake.skill_exists(skill_id, version)``): see fakes/skills.py. A request with
``output_config.format`` and no script queued gets JSON that fits its schema (fakes/structured.py).

A request with ``tool_use`` or ``tool_result`` blocks but no ``tools`` is refused with a 400, before
any script is used, as the real API refuses it. So is one with an image or document whose ``url``
source contains ``/refuse/``: the 400 the real API answers when it cannot fetch a URL (unreachable,
too large, not an image). The fake never fetches a URL either. So is a malformed ``search_result``
block; a scripted reply cites the request's search results with ``search_citation``
(fakes/search_results.py). So are MCP servers and toolsets the API would refuse, and a pretend MCP
server (``fake.mcp_server(url, tools=..., results=..., token=..., reachable=...)``) that cannot be
reached or refuses the request's token (fakes/mcp.py); so are container skills that need a beta
header or a code execution tool the request lacks, or do not exist (fakes/server_tools.py).

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
is slept once, just before the first content delta (with a ``ping`` every
``ping_interval`` seconds meanwhile, if asked); ``tokens_per_second``
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
  ``usage.cache_creation`` splits the writes by TTL: a segment is written with the
  TTL of the breakpoint that ends it (``{"ttl": "1h"}``, else 5 minutes). As the
  real API does, a request with a 1-hour breakpoint after a 5-minute one is refused
  with a 400 before any script is used. There is no minimum cacheable length and
  no expiry; ``reset()`` empties the cache.
  HttpError requests do not touch the cache.
* The tools an MCP toolset loads add their definitions' tokens to input_tokens, in messages and
  count_tokens alike; deferred ones only once a tool search found them (fakes/mcp.py).
  ``fake.usages`` holds the usage of every message answered, oldest first.
* A script's explicit ``input_tokens`` replaces input_tokens only (the cache
  fields are still simulated). ``output_tokens`` defaults to the number of
  text chunks.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import Any, Self

from aiohttp import web

from fakes import compaction, search_results, server_tools
from fakes.batches import FakeBatches, answered
from fakes.files import FakeFiles
from fakes.loop_thread import LoopThread
from fakes.mcp import McpServers
from fakes.scripts import HttpError, Reply, Script, SSEError, echo, http_error_response, unstreamed
from fakes.server_tools import GroundedReply
from fakes.skills import FakeSkills
from fakes.streaming import Answer, plan
from fakes.structured import structured_reply
from fakes.tokens import PromptCache, estimate_input_tokens, ttl_order_error
from fakes.wire import RecordedRequest, ReplyLog, error_response, new_id, request_id_header

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
        self._lock = threading.Lock()
        self.prompt_cache = PromptCache()
        self.usages: list[dict[str, Any]] = []  # each answered message's usage, oldest first
        self.mcp = McpServers()  # the pretend MCP servers (fakes/mcp.py)
        self.mcp_server = self.mcp.server  # declares one: fake.mcp_server(url, tools=..., results=...)
        self.loop_thread = LoopThread("FakeAnthropic", "fake-anthropic", host, port, self._app)
        self.files = FakeFiles(self._keep_request)  # /v1/files (fakes/files.py)
        self.skills = FakeSkills(self._keep_request)  # /v1/skills (fakes/skills.py)
        # /v1/messages/batches (fakes/batches.py)
        self.batches = FakeBatches(self._keep_request, lambda p: answered(p, self.prompt_cache.usage(p)))

    # ----------------------------------------------------------------- public API

    @property
    def base_url(self) -> str:
        if self.loop_thread.bound_port is None:
            raise RuntimeError("FakeAnthropic is not running; call start() or use it as a context manager")
        return f"http://{self.host}:{self.loop_thread.bound_port}"

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
            self.prompt_cache.clear()
            self.usages.clear()
            self.mcp.reset()
            self.files.reset()
            self.batches.reset()
            self.skills.reset()

    def skill_exists(self, skill_id: str, version: str = "latest") -> bool:
        """Whether the skills API holds this custom skill and version ("latest", an epoch, a version id)."""
        return self.skills.resolve(skill_id, version) is not None

    def skill_version(self, skill_id: str, version: str = "latest") -> str | None:
        """The custom skill's version as the skills beta addresses it (its epoch), None if not held."""
        return self.skills.resolve(skill_id, version)

    def start(self) -> Self:
        self.loop_thread.start()
        return self

    def stop(self) -> None:
        self.loop_thread.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- bookkeeping

    def _app(self) -> web.Application:
        # The real API takes 32 MB message requests and 500 MB uploads; aiohttp's default is 1 MB.
        app = web.Application(client_max_size=512 * 2**20)
        app.router.add_post("/v1/messages", self._handle_messages)
        app.router.add_post("/v1/messages/count_tokens", self._handle_count_tokens)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_get("/v1/models/{model_id}", self._handle_model)
        self.files.add_routes(app.router)
        self.batches.add_routes(app.router)
        self.skills.add_routes(app.router)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        return app

    def _keep_request(self, recorded: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _keep_reply(self, log: ReplyLog) -> None:
        with self._lock:
            self.replies.append(log)

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
        self._keep_request(RecordedRequest.of(request, body if body is not None else {}, arrived))
        return body

    def _next_script(self, body: dict[str, Any]) -> Script:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return structured_reply(body) or echo(body)  # JSON that fits output_config.format (structured.py)

    # ----------------------------------------------------------------- handlers

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The request's JSON body, or the error the real API answers before any script is used."""
        body = await self._record(request)
        if body is None:
            return http_error_response(HttpError(400, message="request body must be a JSON object"))
        missing = self.files.missing_file_error(body)
        return body if missing is None else missing

    async def _handle_messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if refused := _refusal(body, _betas(request), self.mcp, self.skill_version):
            return refused
        script = self._next_script(body)
        if isinstance(script, HttpError):
            return http_error_response(script)
        if isinstance(script, SSEError) and not body.get("stream"):
            return http_error_response(unstreamed(script))
        if isinstance(script, GroundedReply) and (mistake := _completed(script, body, self.mcp)):
            return error_response(500, "api_error", f"fake script: {mistake}")

        request_id = (isinstance(script, Reply | GroundedReply) and script.request_id) or new_id("req_")
        usage = _usage(self.prompt_cache.usage(body), script, body, self.mcp)
        self.usages.append(usage)
        message = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or DEFAULT_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }
        answer = Answer(request, message, request_id, self.loop_thread.sleep, self._keep_reply)
        answer.summary = compaction.summary_block(body)
        answer.context_management = compaction.applied_edits(body)
        if isinstance(script, GroundedReply):
            if container := server_tools.open_container(script, body, self.skill_version):
                message["container"] = container  # the files its code made are served
            for output in server_tools.outputs(script):
                self.files.add_produced(output.file_id, output.filename, output.mime_type, output.data)
            return await answer.grounded(script, bool(body.get("stream")))
        steps = plan(script, self.default_tokens_per_second)
        return await (answer.stream(script, steps) if body.get("stream") else answer.whole(script, steps))

    async def _handle_count_tokens(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        tokens = estimate_input_tokens(body) + self.mcp.tool_tokens(body, [])
        return web.json_response({"input_tokens": tokens}, headers=request_id_header())

    async def _handle_models(self, request: web.Request) -> web.Response:
        await self._record(request)
        page = {
            "data": MODELS,
            "has_more": False,
            "first_id": MODELS[0]["id"],
            "last_id": MODELS[-1]["id"],
        }
        return web.json_response(page, headers=request_id_header())

    async def _handle_model(self, request: web.Request) -> web.Response:
        await self._record(request)
        model_id = request.match_info["model_id"]
        for model in MODELS:
            if model["id"] == model_id:
                return web.json_response(model, headers=request_id_header())
        return http_error_response(HttpError(404, message=f"model: {model_id}"))

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        await self._record(request)
        return http_error_response(HttpError(404, message=f"Not found: {request.method} {request.path}"))


URL_REFUSED = "Unable to download the file. Please verify the URL and try again."


def _refusal(
    body: dict[str, Any], betas: list[str], mcp: McpServers, skill_version: server_tools.SkillVersion
) -> web.Response | None:
    """The 400 the real API answers before any script is used, or None."""
    if _tool_blocks(body) and not body.get("tools"):
        message = "Requests which include `tool_use` or `tool_result` blocks must define tools."
        return http_error_response(HttpError(400, message=message))
    if any("/refuse/" in url for url in _url_sources(body)):
        return http_error_response(HttpError(400, message=URL_REFUSED))
    if error := ttl_order_error(body):
        return http_error_response(HttpError(400, message=error))
    if refused := compaction.request_error(body):
        return error_response(400, "invalid_request_error", refused[1], error_code=refused[0])
    error = (
        search_results.request_error(body)
        or mcp.request_error(body, betas)
        or server_tools.skills_error(body, betas, skill_version)
    )
    return http_error_response(HttpError(400, message=error)) if error else None


def _completed(script: GroundedReply, body: dict[str, Any], mcp: McpServers) -> str | None:
    """Complete the reply from the request (citations, tool searches, MCP calls); a script's mistake."""
    return search_results.cite(script, body) or mcp.answer(script.parts, body)


def _usage(usage: dict[str, Any], script: Script, body: dict[str, Any], mcp: McpServers) -> dict[str, Any]:
    """The prompt cache's usage, with the MCP tools' tokens, or the script's own input_tokens."""
    usage["input_tokens"] += mcp.tool_tokens(body, script.parts if isinstance(script, GroundedReply) else [])
    if isinstance(script, Reply) and script.input_tokens is not None:
        usage["input_tokens"] = script.input_tokens
    return usage


def _betas(request: web.Request) -> list[str]:
    return [beta.strip() for beta in request.headers.get("anthropic-beta", "").split(",")]


def _url_sources(body: dict[str, Any]) -> list[str]:
    """The URLs of the request's images and documents sent by link (`{"type": "url"}` sources)."""
    messages = body.get("messages")
    return [
        str(block["source"].get("url", ""))
        for message in (messages if isinstance(messages, list) else [])
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict)
        and isinstance(source := block.get("source"), dict)
        and source.get("type") == "url"
    ]


def _tool_blocks(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    return any(
        isinstance(block, dict) and block.get("type") in ("tool_use", "tool_result")
        for message in (messages if isinstance(messages, list) else [])
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"]
    )
