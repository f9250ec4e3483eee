"""Runs one reply: stream from the API, coalesce deltas into frames, persist, publish.

A reply runs as an asyncio task of its own, detached from any websocket: closing the tab does not
stop it, and any number of tabs can watch. Database writes happen at each content-block stop, at a
checkpoint every CHAT_CHECKPOINT_INTERVAL seconds, and once at the end, never per delta.
"""

import asyncio
import json
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.template.loader import render_to_string

from chatsite.logs import request_id

from . import llm, params, pricing, realtime, selectors, services, tools
from .anthropic_request import PinnedPrompt, Turn, build_messages, build_request, turns_of
from .capabilities import capabilities
from .models import ContentBlock, Message

log = logging.getLogger(__name__)

WORKER_ID = realtime.WORKER_ID

_tasks: set[asyncio.Task] = set()
_sweeper: asyncio.Task | None = None


def start(message_id: int) -> None:
    """Start generating a reply in this process's event loop."""
    ensure_sweeper()
    task = realtime.detached(ReplyRun(message_id).run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def wait_all() -> None:
    """Wait for every reply running in this event loop (tests and shutdown)."""
    loop = asyncio.get_running_loop()
    # A task left by an event loop that has since closed never finishes: forget it.
    _tasks.difference_update([task for task in _tasks if task.get_loop() is not loop])
    while pending := [task for task in _tasks if not task.done()]:
        await asyncio.gather(*pending, return_exceptions=True)


class ReplyRun:
    """The in-memory state of one streaming reply; `realtime` reads its snapshot."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.conversation_id = 0
        self.model = ""
        self.seq = 0
        self.blocks: dict[int, dict] = {}  # index -> API-shaped block, growing
        self.block_html: dict[int, str] = {}  # index -> the block as the page shows it, once stored
        self.open_index: int | None = None
        self.pending = ""  # text not yet sent in a frame
        self.flush_handle: asyncio.TimerHandle | None = None
        self.last_flush = 0.0
        self.tool_json: dict[int, str] = {}
        self.offset = 0  # block index of this API call's first block (a tool loop makes several)
        self.usage: dict[str, int] = {}  # summed over the calls
        self.call_usage: dict[str, int] = {}
        self.stop_reason = ""
        self.stop_sequence = ""
        self.skip = 0  # oldest messages left out to fit the context window
        self.request_id = ""
        self.stop_requested = False
        self.task: asyncio.Task | None = None
        self.dirty = False  # open block changed since the last checkpoint

    # --- what the websocket side may call -------------------------------------------------

    def snapshot(self) -> list:
        self.flush()
        blocks = [
            [
                b["type"],
                self.block_html.get(i),
                b.get("text") or b.get("thinking") or self.tool_json.get(i, ""),
            ]
            for i, b in sorted(self.blocks.items())
        ]
        return ["s", self.message_id, self.seq, blocks]

    def stop(self) -> None:
        self.stop_requested = True
        if self.task is not None:
            self.task.cancel()

    # --- the run -----------------------------------------------------------------------------

    async def run(self) -> None:
        self.task = asyncio.current_task()
        request_id.set(f"reply-{self.message_id}")  # this task's own context: tags its log lines
        reply = await sync_to_async(self._load)()
        self.conversation_id, self.model = reply.conversation_id, reply.model
        unregister = realtime.register(self.message_id, self)
        checkpoints = asyncio.create_task(self._checkpoint_loop())
        status, error = Message.Status.COMPLETE, ""
        try:
            await self._call_until_done(reply)
        except asyncio.CancelledError:
            status = Message.Status.STOPPED
            if not self.stop_requested:
                error = "The server shut down while this reply was streaming."
                status = Message.Status.INTERRUPTED
        except llm.STREAM_ERRORS as exc:
            status = Message.Status.ERROR
            error, failed_request_id = llm.describe_error(exc)
            self.request_id = self.request_id or failed_request_id
            log.warning("reply %s failed: %s (request %s)", self.message_id, error, self.request_id)
        except Exception:
            log.exception("reply %s crashed", self.message_id)
            status, error = Message.Status.ERROR, "Something went wrong on the server."
        finally:
            checkpoints.cancel()
            self.flush()
            html = await sync_to_async(self._finish)(status, error)
            unregister()
            self.seq += 1
            realtime.publish(self.conversation_id, ["e", self.message_id, self.seq, html])

    def _load(self) -> Message:
        """The reply row, and the blocks it already has (a Continue resumes after them)."""
        reply = Message.objects.select_related("conversation__prompt_version").get(pk=self.message_id)
        for block in ContentBlock.objects.filter(message_id=self.message_id).order_by("index"):
            self.blocks[block.index] = block.payload
            self.block_html[block.index] = block_html(block)
        return reply

    async def _call_until_done(self, reply: Message) -> None:
        """Call the API; while it asks for tools (or pauses), answer and call again, up to the cap."""
        request = await sync_to_async(self._request_for)(reply)
        self.skip = await self._fit_context(reply, request)
        for iteration in range(settings.CHAT_MAX_TOOL_ITERATIONS):
            self.offset = len(self.blocks)
            if iteration or self.skip:  # the first request is reused when nothing was left out
                request = await sync_to_async(self._request_for)(reply)
            await self._stream(request)
            for name, value in self.call_usage.items():
                self.usage[name] = self.usage.get(name, 0) + value
            if self.stop_reason == "tool_use":
                await self._run_tools(reply)
            elif self.stop_reason != "pause_turn":  # pause_turn: send the same turn again to resume
                return
        self.stop_reason = "max_iterations"

    def _request_for(self, reply: Message) -> dict:
        conversation = reply.conversation
        version = conversation.prompt_version
        caps = capabilities(reply.model)
        chosen = params.stored(conversation.params)
        own = turns_of("assistant", [self.blocks[i] for i in sorted(self.blocks)])
        return build_request(
            turns=selectors.turns_before(reply, skip=self.skip) + own,
            model=reply.model,
            max_tokens=min(chosen.max_tokens or settings.CHAT_MAX_TOKENS, caps.max_output),
            user_id=selectors.opaque_user_id(conversation.owner_id),
            prompt=PinnedPrompt(version.text, version.cache_ttl) if version else None,
            options=params.request_options(chosen, caps),
        )

    async def _fit_context(self, reply: Message, request: dict) -> int:
        """How many of the oldest messages to leave out so the request fits the context window
        with room for max_tokens. Each message is counted once and its count kept."""
        budget = capabilities(reply.model).context_window - request["max_tokens"]
        if len(json.dumps(request, ensure_ascii=False).encode()) <= budget:
            return 0  # a token is at least one byte: it fits without asking the API
        total = await llm.count_tokens(request)
        if total <= budget:
            return 0
        messages = await sync_to_async(selectors.earlier_messages)(reply)
        skip = 0
        while total > budget and skip < len(messages) - 1:
            total -= await self._message_tokens(reply.model, messages[skip])
            skip += 1
            while skip < len(messages) - 1 and messages[skip].role != Message.Role.USER:
                total -= await self._message_tokens(reply.model, messages[skip])  # start with a user turn
                skip += 1
        return skip

    async def _message_tokens(self, model: str, message: Message) -> int:
        if message.token_count is None:
            # Counted alone; a reply gets a one-character user turn before it so the order is valid.
            turns = await sync_to_async(selectors.turns_for)([message])
            lead = (
                [Turn("user", [{"type": "text", "text": "."}])]
                if message.role == Message.Role.ASSISTANT
                else []
            )
            counted = {"model": model, "messages": build_messages(lead + turns)}
            message.token_count = await llm.count_tokens(counted)
            await Message.objects.filter(pk=message.pk).aupdate(token_count=message.token_count)
        return message.token_count

    async def _run_tools(self, reply: Message) -> None:
        """Answer every tool_use of the last call with a tool_result block, stored and shown."""
        zone = params.stored(reply.conversation.params).timezone
        context = tools.ToolContext(user_id=reply.conversation.owner_id, timezone=zone)
        calls = [b for i, b in sorted(self.blocks.items()) if i >= self.offset and b["type"] == "tool_use"]
        for call in calls:
            text, is_error = await sync_to_async(tools.run_tool)(call["name"], call["input"], context)
            result = {"type": "tool_result", "tool_use_id": call["id"], "content": text}
            if is_error:
                result["is_error"] = True
            index = len(self.blocks)
            self.blocks[index] = result
            self.seq += 1
            realtime.publish(self.conversation_id, ["b", self.message_id, self.seq, index, "tool_result"])
            await self._save_and_show(index, result)

    async def _stream(self, request: dict) -> None:
        """One API call, streamed."""
        self.stop_reason, self.stop_sequence, self.call_usage = "", "", {}
        loop = asyncio.get_running_loop()
        stall = settings.CHAT_STALL_TIMEOUT
        async with asyncio.timeout(stall) as deadline:
            stream, self.request_id = await llm.open_stream(request)
            try:
                async for event in stream:
                    deadline.reschedule(loop.time() + stall)
                    if event.type == "content_block_stop":
                        await self._close_block(self.offset + event.index)
                    else:
                        self._on_event(event)
            finally:
                await stream.close()

    def _on_event(self, event) -> None:
        kind = event.type
        if kind == "content_block_delta":
            self._on_delta(self.offset + event.index, event.delta)
        elif kind == "content_block_start":
            self._open_block(self.offset + event.index, event.content_block.model_dump(exclude_none=True))
        elif kind == "message_start":
            self._add_usage(event.message.usage)
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or ""
            self.stop_sequence = getattr(event.delta, "stop_sequence", None) or ""
            self._add_usage(event.usage)

    def _add_usage(self, usage) -> None:
        # Within one call, message_delta's counts are cumulative, so they replace message_start's.
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ):
            value = getattr(usage, name, None)
            if value is not None:
                self.call_usage[name] = value
        split = getattr(usage, "cache_creation", None)  # by TTL, when the API reports it
        if split is not None and split.ephemeral_1h_input_tokens is not None:
            self.call_usage["cache_creation_1h_input_tokens"] = split.ephemeral_1h_input_tokens

    def _open_block(self, index: int, block: dict) -> None:
        self.flush()
        if block["type"] == "tool_use":
            block["input"] = {}
            self.tool_json[index] = ""
        block.pop("citations", None)
        self.blocks[index] = block
        self.open_index = index
        self.seq += 1
        realtime.publish(self.conversation_id, ["b", self.message_id, self.seq, index, block["type"]])

    def _on_delta(self, index: int, delta) -> None:
        block = self.blocks[index]
        kind = delta.type
        if kind == "text_delta":
            block["text"] += delta.text
            self._queue_text(delta.text)
        elif kind == "thinking_delta":
            block["thinking"] += delta.thinking
            self._queue_text(delta.thinking)
        elif kind == "signature_delta":
            block["signature"] = delta.signature
        elif kind == "input_json_delta":
            self.tool_json[index] += delta.partial_json
            self._queue_text(delta.partial_json)
        self.dirty = True

    def _queue_text(self, text: str) -> None:
        """Coalesce: at most one frame per CHAT_FRAME_INTERVAL, carrying only the new text."""
        self.pending += text
        if self.flush_handle is None:
            loop = asyncio.get_running_loop()
            due = self.last_flush + settings.CHAT_FRAME_INTERVAL
            self.flush_handle = loop.call_at(max(due, loop.time()), self.flush)

    def flush(self) -> None:
        flushed_at = asyncio.get_running_loop().time()
        if self.flush_handle is not None:
            # Count from when the timer was due, not when it ran: timers fire a little late, and
            # that drift would otherwise add up to a steady extra delay at a steady token rate.
            flushed_at = min(flushed_at, self.flush_handle.when())
            self.flush_handle.cancel()
            self.flush_handle = None
        if self.pending:
            self.seq += 1
            realtime.publish(self.conversation_id, ["d", self.message_id, self.seq, self.pending])
            self.pending = ""
            self.last_flush = flushed_at

    async def _close_block(self, index: int) -> None:
        self.flush()
        block = self.blocks[index]
        if block["type"] == "tool_use":
            try:
                block["input"] = json.loads(self.tool_json.pop(index) or "{}")
            except json.JSONDecodeError:
                block["input"] = {}  # the tool then answers with an is_error result
        self.open_index = None
        self.dirty = False
        await self._save_and_show(index, block)

    async def _save_and_show(self, index: int, block: dict) -> None:
        """Store the finished block (rendering markdown off the event loop), then swap it in."""
        self.block_html[index] = await sync_to_async(_save_block)(self.message_id, index, dict(block))
        self.seq += 1
        realtime.publish(
            self.conversation_id, ["c", self.message_id, self.seq, index, self.block_html[index]]
        )

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(settings.CHAT_CHECKPOINT_INTERVAL)
            index = self.open_index if self.dirty else None
            payload = dict(self.blocks[index]) if index is not None else None
            self.dirty = False
            await sync_to_async(services.reply_checkpoint)(
                message_id=self.message_id, index=index, payload=payload, worker=WORKER_ID
            )

    def _finish(self, status: str, error: str) -> str:
        """The final write, then the message rendered as the page shows it."""
        open_blocks = {i: b for i, b in self.blocks.items() if i not in self.block_html}
        usage = pricing.Usage(**self.usage)
        price = selectors.price_for_model(self.model)
        reply = services.reply_finish(
            message_id=self.message_id,
            open_blocks=open_blocks,
            status=status,
            error=error,
            stop_reason=self.stop_reason,
            stop_sequence=self.stop_sequence,
            trimmed=self.skip,
            request_id=self.request_id,
            worker="",
            cost=pricing.cost(usage, price) if price else None,
            cache_savings=pricing.cache_savings(usage, price) if price else None,
            **self.usage,
        )
        reply.is_latest = True
        return message_html(reply)


def message_html(message: Message) -> str:
    """The message as the page shows it (its blocks read here)."""
    blocks = list(message.blocks.order_by("index"))
    return render_to_string("conversations/_message.html", {"message": message, "blocks": blocks})


def block_html(block: ContentBlock) -> str:
    return render_to_string("conversations/_block.html", {"block": block, "message": {"role": "assistant"}})


def _save_block(message_id: int, index: int, payload: dict) -> str:
    rendered = services.block_save(message_id=message_id, index=index, payload=payload)
    return block_html(ContentBlock(index=index, type=payload["type"], payload=payload, rendered=rendered))


def ensure_sweeper() -> None:
    """Once per process: mark replies orphaned by dead workers as interrupted, now and periodically."""
    global _sweeper
    realtime.start_worker_listener()
    if _sweeper is None or _sweeper.done() or _sweeper.get_loop() is not asyncio.get_running_loop():
        _sweeper = realtime.detached(_sweep_forever())


async def _sweep_forever() -> None:
    while True:
        try:
            count = await sync_to_async(services.orphaned_replies_interrupt)()
            if count:
                log.warning("marked %d orphaned streaming replies as interrupted", count)
        except Exception:
            log.exception("orphan sweep failed")
        await asyncio.sleep(settings.CHAT_ORPHAN_AFTER)


async def stop_and_wait(message_ids: list[int]) -> None:
    """Stop these replies if they run here, and wait until their final state is stored."""
    runs = [run for mid in message_ids if (run := realtime.live_replies.get(mid)) is not None]
    for run in runs:
        run.stop()
    tasks = [run.task for run in runs if run.task is not None]
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
