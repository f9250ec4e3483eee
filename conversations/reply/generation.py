"""Runs one reply: stream from the API, turn events into blocks and frames, persist, loop tools.

A reply runs as an asyncio task of its own, detached from any websocket: closing the tab does not
stop it, and any number of tabs can watch. Its parts each live in their own module: the request
(`reply_request`), fitting the context window (`context_window`), frames (`realtime.FrameWriter`),
HTML (`rendering`) and the writes (`services`: each block at its stop, a checkpoint every
CHAT_CHECKPOINT_INTERVAL seconds, the final state with its usage and cost), never per delta.
"""

import asyncio
import logging
from collections.abc import Callable
from functools import partial

from asgiref.sync import sync_to_async
from django.conf import settings

from chatsite.logs import request_id
from conversations import rendering, selectors, services
from conversations.claude import attachment_files, compaction, llm, mcp, params, sandbox, tools
from conversations.library import organising, temporary
from conversations.live import metrics, realtime, relay, runtime
from conversations.models import ContentBlock, Message
from conversations.reply import context_window, reply_request, titles
from conversations.reply.reply_blocks import ReplyBlocks
from conversations.services import ReplyOutcome

log = logging.getLogger(__name__)

WORKER_ID = realtime.WORKER_ID


def start(reply: Message, *, received_at: float | None = None, run: "ReplyRun | None" = None) -> None:
    """Start generating a reply in this process's event loop. `received_at` (time.perf_counter())
    is when its send reached the server: the first text frame reports the time since. `run`: the
    reply made ready in its send's thread hop (`prepare`).

    The reply is findable from this moment, before its first thread hop, so a Stop pressed as soon
    as the turn shows stops it (it is never "not streaming")."""
    ensure_sweeper()
    run = run or ReplyRun(reply.pk, reply.conversation_id)
    run.frames.received_at = received_at
    run.unregister = realtime.register(reply.pk, run)
    _track(runtime.detached(run.run()))


def prepare(reply: Message) -> "ReplyRun | None":
    """A reply its send has just written, made ready in the send's own thread hop: its first
    request is built from the rows in hand, so it starts without a second hop or a second read.
    None if that fails; `start` then loads it as usual (and stores the failure on the reply)."""
    run = ReplyRun(reply.pk, reply.conversation_id)
    try:
        run.prepared = run._load(reply)
    except Exception:
        log.exception("reply %s: could not prepare it in its send's hop", reply.pk)
        return None
    return run


def _track(task: asyncio.Task) -> None:
    """Keep a reference (a task only weakly held can be collected mid-run) and let wait_all see it."""
    tasks = runtime.current().tasks
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def wait_all() -> None:
    """Wait for every reply running in this event loop (tests and shutdown)."""
    tasks = runtime.current().tasks
    while pending := [task for task in tasks if not task.done()]:
        await asyncio.gather(*pending, return_exceptions=True)


class ReplyRun:
    """One streaming reply: its blocks as they grow, and the loop of API calls and tools."""

    def __init__(self, message_id: int, conversation_id: int, received_at: float | None = None) -> None:
        self.message_id = message_id
        self.conversation_id = conversation_id
        self.frames = realtime.FrameWriter(conversation_id, message_id, received_at)
        self.blocks = ReplyBlocks(message_id, self.frames)
        self.offset = 0  # block index of this API call's first block (a tool loop makes several)
        self.outcome = ReplyOutcome()
        self.call_usage: dict[str, int] = {}
        self.files: attachment_files.ReplyFiles | None = None  # file_id or base64 (set by the run)
        self.connectors: list = []  # those the last request sent (claude/mcp.py)
        self.left_out: set[str] = set()  # connectors the API could not use: the reply goes on without
        self.stop_requested = False
        self.first_turn = False  # it answers the conversation's first message: a title may follow
        self.task: asyncio.Task | None = None
        self.loaded = False  # its row and first request are read: a stop may cancel the task
        self.finishing = False  # its final write is on its way: no more checkpoints
        self.unregister: Callable[[], None] = lambda: None
        self.prepared: tuple[Message, dict | None] | None = None  # loaded in its send's hop (`prepare`)

    # --- what the websocket side may call -------------------------------------------------

    def snapshot(self) -> list:
        self.frames.flush()  # first: the open text block's HTML is what the last frame showed
        return self.frames.snapshot(self.blocks.snapshot())

    def stop(self) -> None:
        """Stop now; a reply still loading stops as soon as it has loaded, before any API call."""
        self.stop_requested = True
        if self.task is not None and self.loaded:
            self.task.cancel()

    # --- the run -----------------------------------------------------------------------------

    async def run(self) -> None:
        self.task = asyncio.current_task()
        request_id.set(f"reply-{self.message_id}")  # this task's own context: tags its log lines
        try:
            reply, request = self.prepared or await sync_to_async(self._load)()
        except BaseException:  # its row is gone, or the server stops: nothing to finish
            self.unregister()
            raise
        self.loaded = True
        metrics.ACTIVE_STREAMS.inc()
        try:
            if self.stop_requested:  # stopped while it loaded: no API call
                self.outcome.status = Message.Status.STOPPED
            else:
                await self._call_until_done(reply, request)
        except asyncio.CancelledError:
            if self.stop_requested:
                self.outcome.status = Message.Status.STOPPED
            else:
                self._failed(Message.Status.INTERRUPTED, "The server shut down while this reply streamed.")
        except llm.STREAM_ERRORS as exc:
            error, failed_request_id = llm.describe_error(exc)
            self.outcome.request_id = self.outcome.request_id or failed_request_id
            self._failed(Message.Status.ERROR, error, type(exc).__name__)
            log.warning("reply %s failed: %s (request %s)", self.message_id, error, self.outcome.request_id)
        except Exception:
            log.exception("reply %s crashed", self.message_id)
            self._failed(Message.Status.ERROR, "Something went wrong on the server.", "crash")
        finally:
            metrics.ACTIVE_STREAMS.dec()
            self.finishing = True
            self.frames.flush()
            html = await sync_to_async(self._finish)()
            self.unregister()
            self.frames.ended(html)
            if self.first_turn and self.outcome.status == Message.Status.COMPLETE and titles.wanted():
                _track(runtime.detached(titles.title_conversation(self.message_id)))

    def _failed(self, status: str, error: str, kind: str = "") -> None:
        self.outcome.status, self.outcome.error = status, error
        metrics.ERRORS.labels(kind or status).inc()

    def _load(self, reply: Message | None = None) -> tuple[Message, dict | None]:
        """The reply row, the blocks it already has (a Continue resumes after them) and its first
        request, in one thread hop; no request yet when attachments must go to the Files API first.
        `reply`: the row a send has just written, which has no blocks yet."""
        if reply is None:
            rows = Message.objects.select_related("conversation__prompt_version", "parent")
            reply = rows.get(pk=self.message_id)
            self.blocks.load(list(ContentBlock.objects.filter(message_id=self.message_id).order_by("index")))
        self.first_turn = reply.parent is not None and reply.parent.parent_id is None
        self.files = attachment_files.ReplyFiles(reply.model)
        try:
            return reply, (None if self.files.pending(reply) else self._request_for(reply))
        except Exception:  # built again inside the run, where the failure becomes the reply's error
            return reply, None

    async def _call_until_done(self, reply: Message, request: dict | None) -> None:
        """Call the API; while it asks for tools (or pauses), answer and call again, up to the cap."""
        if request is None:
            await self.files.upload_pending()
            request = await sync_to_async(self._request_for)(reply)
        self.outcome.trimmed = await context_window.messages_to_leave_out(reply, request)
        for iteration in range(settings.CHAT_MAX_TOOL_ITERATIONS):
            self.offset = len(self.blocks.blocks)
            if iteration or self.outcome.trimmed:  # the first request is reused when nothing was left out
                request = await sync_to_async(self._request_for)(reply)
            await self._stream(request, reply)
            self.outcome.add_usage(self.call_usage)
            if self.outcome.stop_reason == "tool_use":
                await self._run_tools(reply)
            elif self.outcome.stop_reason != "pause_turn":  # pause_turn: send the same turn again
                return
        self.outcome.stop_reason = "max_iterations"

    def _request_for(self, reply: Message) -> dict:
        own = self.blocks.in_order()
        by_file_id = self.files is not None and self.files.by_file_id
        if self.outcome.container:  # a tool loop or a paused turn goes on in the same sandbox
            reply.conversation.container_id, reply.conversation.container_expires_at = self.outcome.container
        built = reply_request.request_for(
            reply,
            own_blocks=own,
            skip=self.outcome.trimmed,
            by_file_id=by_file_id,
            without=frozenset(self.left_out),
        )
        self.blocks.sources.documents = self.outcome.cited_documents = built.cited_documents
        self.connectors = built.connectors
        return built.body

    async def _run_tools(self, reply: Message) -> None:
        """Answer every tool_use of the last call with a tool_result block, stored and shown."""
        zone = params.stored(reply.conversation.params).timezone
        context = tools.ToolContext(user_id=reply.conversation.owner_id, timezone=zone)
        calls = [b for b in self.blocks.in_order()[self.offset :] if b["type"] == "tool_use"]
        for call in calls:
            if call["name"] == mcp.APPROVAL_TOOL:  # the person answers, in the page
                text, is_error = await mcp.answer(self.message_id, call, self.connectors)
            else:
                text, is_error = await sync_to_async(tools.run_tool)(call["name"], call["input"], context)
            result = {"type": "tool_result", "tool_use_id": call["id"], "content": text}
            if is_error:
                result["is_error"] = True
            index = len(self.blocks.blocks)
            self.blocks.open(index, result)
            await self.blocks.close(index)

    async def _stream(self, request: dict, reply: Message) -> None:
        """One API call, streamed; CHAT_STALL_TIMEOUT seconds with nothing received, pings
        included, raises TimeoutError."""
        self.outcome.stop_reason, self.outcome.stop_sequence, self.call_usage = "", "", {}
        loop = asyncio.get_running_loop()
        stall = settings.CHAT_STALL_TIMEOUT
        async with asyncio.timeout(stall) as deadline:
            stream, self.outcome.request_id = await self._open(request, reply)
            pings = asyncio.create_task(_alive_while_bytes_arrive(stream.response, deadline, stall))
            try:
                async for event in stream:
                    deadline.reschedule(loop.time() + stall)
                    if event.type == "content_block_stop":
                        await self.blocks.close(self.offset + event.index)
                    else:
                        self._on_event(event)
            finally:
                pings.cancel()
                await stream.close()

    async def _open(self, request: dict, reply: Message):
        """Open the stream; connectors the API cannot use (unreachable, a token refused) are left
        out, said on the reply, and the same turn is sent again without them."""
        rebuild = partial(sync_to_async(self._request_for), reply)
        while True:
            try:
                return await self.files.open_stream(request, rebuild)
            except llm.STREAM_ERRORS as exc:
                if not _leave_out_connectors(self, exc):
                    raise
            request = await rebuild()

    def _on_event(self, event) -> None:
        kind = event.type
        if kind == "content_block_delta":
            self.blocks.delta(self.offset + event.index, event.delta)
        elif kind == "content_block_start":
            # to_dict: exactly the fields the API sent (server tool blocks are replayed verbatim).
            self.blocks.open(self.offset + event.index, event.content_block.to_dict(mode="json"))
        elif kind == "message_start":
            self.call_usage.update(llm.usage_fields(event.message.usage))
        elif kind == "message_delta":
            self.outcome.stop_reason = event.delta.stop_reason or ""
            self.outcome.container = sandbox.container_of(event.delta) or self.outcome.container
            self.outcome.stop_sequence = getattr(event.delta, "stop_sequence", None) or ""
            cleared = compaction.cleared_tool_uses(getattr(event, "context_management", None))
            self.outcome.cleared_tool_uses += cleared
            # Within one call, message_delta's counts are cumulative: they replace message_start's.
            self.call_usage.update(llm.usage_fields(event.usage))

    def _finish(self) -> str:
        """The final write, then the message rendered as the page shows it."""
        reply = services.reply_finish(
            message_id=self.message_id, open_blocks=self.blocks.unstored(), outcome=self.outcome
        )
        return rendering.message_html(selectors.with_versions(reply), shown=self.blocks.html)


def _leave_out_connectors(run: ReplyRun, exc: BaseException) -> bool:
    """Whether the error was about connectors, now left out of `run` (claude/mcp.py)."""
    error, _ = llm.describe_error(exc)
    failed = mcp.failed_connectors(error, [u for u in run.connectors if u.name not in run.left_out])
    for use in failed:
        log.warning("reply %s: connector %s left out: %s", run.message_id, use.name, error)
        run.outcome.connector_errors.append(f"{use.title}: {error}")
        run.left_out.add(use.name)
    return bool(failed)


async def _checkpoints() -> None:
    """Every CHAT_CHECKPOINT_INTERVAL, for all the replies streaming here at once: keep each open
    block's partial text, and say we are alive. Collected and handed to the database thread in one
    step, so a reply's final write (queued later on the same thread) always comes after."""
    while True:
        await asyncio.sleep(settings.CHAT_CHECKPOINT_INTERVAL)
        runs = [run for run in runtime.current().live_replies.values() if isinstance(run, ReplyRun)]
        runs = [run for run in runs if run.loaded and not run.finishing]
        if not runs:
            continue
        opened = [(run.message_id, *run.blocks.checkpoint()) for run in runs]
        try:
            await sync_to_async(services.replies_checkpoint)(
                message_ids=[run.message_id for run in runs],
                partial=[
                    (message_id, index, payload) for message_id, index, payload in opened if index is not None
                ],
                worker=WORKER_ID,
            )
        except Exception:
            log.exception("checkpoint of %d replies failed", len(runs))


def ensure_sweeper() -> None:
    """Once per process (per event loop): watch the loop's lag, start the relay (REDIS_URL set),
    checkpoint the replies streaming here, and sweep: mark replies orphaned by dead workers as
    interrupted, and purge the conversations whose Undo has expired (organising.py), now and
    periodically."""
    here = runtime.current()
    here.watch_lag()
    if realtime.cross_process():
        relay.start()
    here.ensure("checkpoints", _checkpoints)
    here.ensure("orphan sweep", _sweep_forever)


async def _sweep_forever() -> None:
    while True:
        try:
            count = await sync_to_async(services.orphaned_replies_interrupt)()
            if count:
                log.warning("marked %d orphaned streaming replies as interrupted", count)
            await sync_to_async(organising.deleted_conversations_purge)()
            await sync_to_async(temporary.temporary_chats_scrub)()
            await attachment_files.remote_deletions_run()
        except Exception:
            log.exception("orphan sweep failed")
        await asyncio.sleep(settings.CHAT_ORPHAN_AFTER)


async def stop_and_wait(message_ids: list[int]) -> None:
    """Stop these replies if they run here, and wait until their final state is stored."""
    live_replies = runtime.current().live_replies
    runs = [run for mid in message_ids if (run := live_replies.get(mid)) is not None]
    for run in runs:
        run.stop()
    tasks = [run.task for run in runs if run.task is not None]
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def _alive_while_bytes_arrive(response, deadline: asyncio.Timeout, stall: float) -> None:
    """Pings keep a stream alive: the SDK drops them before `_stream` sees an event, so the bytes
    the response has read are the second clock. Checked a few times per `stall`."""
    loop = asyncio.get_running_loop()
    seen = response.num_bytes_downloaded
    while True:
        await asyncio.sleep(stall / 4)
        if response.num_bytes_downloaded != seen:
            seen = response.num_bytes_downloaded
            deadline.reschedule(max(deadline.when() or 0, loop.time() + stall))
