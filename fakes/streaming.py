"""One scripted message on the wire: streamed as paced SSE events, returned whole, cut or stalled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes import server_tools
from fakes.scripts import Cut, Reply, SSEError, Stall, split_chunks
from fakes.server_tools import GroundedReply
from fakes.wire import ReplyLog, sse

Sleep = Callable[[float], Awaitable[None]]  # returns early once the server is stopping
Keep = Callable[[ReplyLog], None]  # appends a reply's log to the server's `replies`

_SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


@dataclass
class Plan:
    """A script reduced to what gets sent."""

    text_chunks: list[str]
    thinking_chunks: list[str]
    signature: str
    stop_reason: str
    output_tokens: int
    tokens_per_second: float | None
    first_delay: float
    ping_every: int | None
    ping_interval: float | None = None
    tool_use: dict[str, Any] | None = None
    stop_sequence: str | None = None


def plan(script: Reply | Cut | Stall | SSEError, default_tokens_per_second: float | None) -> Plan:
    tps = script.tokens_per_second if script.tokens_per_second is not None else default_tokens_per_second
    if isinstance(script, Reply):
        chunks = script.chunks if script.chunks is not None else split_chunks(script.text)
        return Plan(
            text_chunks=chunks,
            thinking_chunks=split_chunks(script.thinking) if script.thinking is not None else [],
            signature=script.thinking_signature,
            stop_reason=script.stop_reason,
            output_tokens=script.output_tokens if script.output_tokens is not None else len(chunks),
            tokens_per_second=tps,
            first_delay=script.first_delay,
            ping_every=script.ping_every,
            ping_interval=script.ping_interval,
            tool_use=script.tool_use,
            stop_sequence=script.stop_sequence,
        )
    chunks = split_chunks(script.text)
    return Plan(
        text_chunks=chunks,
        thinking_chunks=[],
        signature="",
        stop_reason="end_turn",
        output_tokens=len(chunks),
        tokens_per_second=tps,
        first_delay=0.0,
        ping_every=None,
    )


class _EventStream:
    """Writes SSE events to one response, pacing content deltas and filling its ReplyLog."""

    def __init__(self, resp: web.StreamResponse, log: ReplyLog, plan: Plan, sleep: Sleep):
        self._resp = resp
        self._log = log
        self._plan = plan
        self._sleep = sleep
        self.deltas_sent = 0
        self.text_deltas_sent = 0
        self.context_management: dict[str, Any] | None = None  # the message_delta's (compaction.py)

    async def event(self, name: str, data: dict[str, Any]) -> None:
        await self._resp.write(sse(name, data))

    async def delta(self, index: int, delta: dict[str, Any]) -> None:
        plan = self._plan
        if self.deltas_sent == 0:
            await self._quiet(plan.first_delay)
        elif plan.tokens_per_second:
            await self._sleep(1 / plan.tokens_per_second)
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

    async def _quiet(self, seconds: float) -> None:
        """No content for `seconds`: pings only, every `ping_interval` if the script asks."""
        step = self._plan.ping_interval
        while step and seconds > step:
            await self._sleep(step)
            await self.event("ping", {"type": "ping"})
            seconds -= step
        await self._sleep(seconds)

    async def summary_block(self, block: dict[str, Any]) -> None:
        """Block 0: the compaction block (fakes/compaction.py): its summary in one delta."""
        await self.event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {**block, "content": None}},
        )
        delta = {"type": "compaction_delta", "content": block["content"], "encrypted_content": None}
        await self.event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        await self.event("content_block_stop", {"type": "content_block_stop", "index": 0})

    async def thinking_block(self, index: int = 0) -> None:
        """Thinking deltas, then the signature."""
        await self.event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        )
        for chunk in self._plan.thinking_chunks:
            await self.delta(index, {"type": "thinking_delta", "thinking": chunk})
        # The signature is not a generated token, so it is not paced.
        await self.event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "signature_delta", "signature": self._plan.signature},
            },
        )
        await self.event("content_block_stop", {"type": "content_block_stop", "index": index})

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
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self._plan.stop_reason, "stop_sequence": self._plan.stop_sequence},
            "usage": {"output_tokens": output_tokens},
        }
        if self.context_management is not None:
            delta["context_management"] = self.context_management
        await self.event("message_delta", delta)
        await self.event("message_stop", {"type": "message_stop"})


@dataclass
class Answer:
    """One message's response: the request, the message so far, and the server's hooks."""

    request: web.Request
    message: dict[str, Any]
    request_id: str
    sleep: Sleep
    keep: Keep
    summary: dict[str, Any] | None = None  # a compaction block that comes first (fakes/compaction.py)
    context_management: dict[str, Any] | None = None  # what the context edits did, for message_delta

    async def stream(self, script: Reply | Cut | Stall | SSEError, plan: Plan) -> web.StreamResponse:
        resp = await self._event_stream()
        log = ReplyLog(request_id=self.request_id)
        self.keep(log)
        stream = _EventStream(resp, log, plan, self.sleep)
        stream.context_management = self.context_management
        first = 1 if self.summary is not None else 0
        thinks = isinstance(script, Reply) and script.thinking is not None
        text_index = first + (1 if thinks else 0)
        try:
            await stream.event("message_start", {"type": "message_start", "message": self.message})
            if self.summary is not None:
                await stream.summary_block(self.summary)
            if thinks:
                await stream.thinking_block(first)
            if isinstance(script, Cut):
                await stream.text_deltas(text_index, script.after_deltas)
                await abort(self.request)
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
                await self.sleep(script.seconds)
                await stream.finish(text_index, stream.text_deltas_sent)
                return resp
            await stream.finish(text_index, plan.output_tokens)
        except ConnectionResetError:
            pass  # the client hung up; nothing left to send
        return resp

    async def whole(self, script: Reply | Cut | Stall, plan: Plan) -> web.StreamResponse:
        log = ReplyLog(request_id=self.request_id)
        self.keep(log)
        if isinstance(script, Cut):
            await abort(self.request)
            return web.Response()  # never sent: the transport is gone
        # A non-streamed reply takes as long as generating it would.
        await self.sleep(plan.first_delay)
        if plan.tokens_per_second:
            steps = len(plan.thinking_chunks) + len(plan.text_chunks) - 1
            await self.sleep(max(0, steps) / plan.tokens_per_second)
        if isinstance(script, Stall):
            await self.sleep(script.seconds)
        content: list[dict[str, Any]] = [self.summary] if self.summary is not None else []
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
            **self.message,
            "content": content,
            "stop_reason": plan.stop_reason,
            "usage": {**self.message["usage"], "output_tokens": plan.output_tokens},
        }
        return web.json_response(message, headers={"request-id": self.request_id})

    async def grounded(self, script: GroundedReply, streamed: bool) -> web.StreamResponse:
        """A reply with server tool blocks and citations (fakes/server_tools.py)."""
        self.keep(ReplyLog(request_id=self.request_id))
        if not streamed:
            usage = {
                **self.message["usage"],
                "output_tokens": server_tools.output_tokens(script),
                "server_tool_use": server_tools.server_tool_use(script),
            }
            whole = {
                **self.message,
                "content": server_tools.blocks(script),
                "stop_reason": script.stop_reason,
            }
            return web.json_response({**whole, "usage": usage}, headers={"request-id": self.request_id})
        resp = await self._event_stream()

        async def write(name: str, data: dict[str, Any]) -> None:
            await resp.write(sse(name, data))

        try:
            await write("message_start", {"type": "message_start", "message": self.message})
            await server_tools.stream(script, write)
        except ConnectionResetError:
            pass
        return resp

    async def _event_stream(self) -> web.StreamResponse:
        resp = web.StreamResponse(headers={**_SSE_HEADERS, "request-id": self.request_id})
        resp.enable_chunked_encoding()
        await resp.prepare(self.request)
        return resp


async def abort(request: web.Request) -> None:
    """Drop the TCP connection, without the chunked terminator, once written bytes have left."""
    transport = request.transport
    if transport is None:
        return
    # abort() discards anything still buffered, so let the kernel take it first.
    deadline = time.monotonic() + 1.0
    while transport.get_write_buffer_size() and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    transport.abort()
