"""Frames from a streaming reply to the websockets watching its conversation.

Fan-out is in-process: `publish` hands each frame straight to the subscribed consumers' outboxes,
with no channel-layer round trip and no thread hop (a direct send costs about 10 µs; a `group_send` to a
consumer about 200 µs under daphne, because `AsyncConsumer.dispatch` makes a thread hop per message).

With several workers (REDIS_URL set), `relay` also routes frames, in order and batched, to the
other processes that have a tab on that conversation, and only to those.

Frames are compact JSON arrays, `[kind, message_id, seq, ...]`; seq counts up from 1 per reply so
a tab can spot a gap and ask for a snapshot:

    ["b", id, seq, index, block_type, html]  a content block starts: its empty element
    ["d", id, seq, text]                   new text for the open block (never text already sent)
    ["m", id, seq, index, html, units]     markdown blocks closed in the open text block: their HTML
                                           goes before the tail, whose first `units` UTF-16 code
                                           units it replaces
    ["c", id, seq, index, html]            a block is complete: its final element
    ["e", id, seq, html]                   the reply ended: the whole message, rendered
    ["s", id, seq, blocks]                 snapshot; blocks = [[block_type, html, text so far], ...]
    ["a", send_id, html, conversation_id, url, title]  a send was accepted: the turn's HTML
    ["n", send_id, message]                a send was refused; the composer keeps the text
    ["t", conversation_id, title]          the conversation got a generated title (titles.py)
    ["x", message]                         a control frame was refused; the socket stays up
    ["r"]                                  frames were dropped (slow tab): resync every reply

All HTML comes from the server's templates (`rendering`); the page's script only places it.
"""

import asyncio
import contextvars
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from django.conf import settings

from conversations.live import metrics, relay

log = logging.getLogger(__name__)

# Names this process in Message.worker.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Subscriber(Protocol):
    def push(self, frame: str) -> None: ...


class LiveReply(Protocol):
    conversation_id: int

    def snapshot(self) -> list: ...

    def stop(self) -> None: ...


_subscribers: dict[int, set[Subscriber]] = {}
# Replies streaming in this process, by message id.
live_replies: dict[int, LiveReply] = {}


def encode(frame: list) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def end_frame(message_id: int, seq: int, html: str) -> list:
    return ["e", message_id, seq, html]


def send_accepted_frame(send_id: str, html: str, conversation_id: int, url: str, title: str) -> list:
    return ["a", send_id, html, conversation_id, url, title]


def send_refused_frame(send_id: str, reason: str) -> list:
    return ["n", send_id, reason]


def title_frame(conversation_id: int, title: str) -> list:
    return ["t", conversation_id, title]


def refusal_frame(reason: str) -> list:
    return ["x", reason]


RESYNC_FRAME = ["r"]


LAGGING = 0.005  # event-loop lag past which text is coalesced even after a quiet interval


class LoopLag:
    """How late this process's event loop runs a timer (sampled every 10 ms by `watch`)."""

    seconds = 0.0
    task: asyncio.Task | None = None

    def watch(self) -> None:
        if self.task is None or self.task.done() or self.task.get_loop() is not asyncio.get_running_loop():
            self.task = detached(self._sample())

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.seconds = max(0.0, loop.time() - due)


loop_lag = LoopLag()


class FrameWriter:
    """The frames of one reply, in order. It owns the sequence number, the text not sent yet and
    the coalescing timer: at most one text frame per CHAT_FRAME_INTERVAL, carrying only new text."""

    def __init__(self, conversation_id: int, message_id: int, received_at: float | None = None) -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.received_at = received_at  # time.perf_counter() when the send reached the server
        self.seq = 0
        self.pending = ""
        self.flush_handle: asyncio.TimerHandle | None = None
        self.last_flush = 0.0

    def block_started(self, index: int, block_type: str, html: str) -> None:
        self._publish("b", index, block_type, html)

    def text(self, text: str) -> None:
        """Coalesce only under load: text after a quiet interval goes out at once (the leading
        edge); text that comes faster than the frame interval, or while the event loop lags,
        waits for the next frame, so frames grow instead of queueing."""
        self.pending += text
        if self.flush_handle is None:
            loop = asyncio.get_running_loop()
            due = self.last_flush + settings.CHAT_FRAME_INTERVAL
            if due <= loop.time() and loop_lag.seconds < LAGGING:
                self.flush()
            else:
                self.flush_handle = loop.call_at(max(due, loop.time()), self.flush)

    def markdown(self, index: int, html: str, units: int) -> None:
        """Blocks of the open text closed: their HTML replaces the first `units` (UTF-16) of the tail."""
        self._publish("m", index, html, units)

    def block_done(self, index: int, html: str) -> None:
        self._publish("c", index, html)

    def ended(self, html: str) -> None:
        self._publish("e", html)

    def snapshot(self, blocks: list[list]) -> list:
        """A frame that brings a joining tab up to date; live frames follow from seq + 1."""
        self.flush()
        return ["s", self.message_id, self.seq, blocks]

    def flush(self) -> None:
        flushed_at = asyncio.get_running_loop().time()
        if self.flush_handle is not None:
            # Count from when the timer was due, not when it ran: timers fire a little late, and
            # that drift would otherwise add up to a steady extra delay at a steady token rate.
            flushed_at = min(flushed_at, self.flush_handle.when())
            self.flush_handle.cancel()
            self.flush_handle = None
        if self.pending:
            text, self.pending = self.pending, ""
            self.seq += 1
            publish(self.conversation_id, ["d", self.message_id, self.seq, text])
            self.last_flush = flushed_at
            if self.received_at is not None:
                metrics.FIRST_TOKEN_SECONDS.observe(time.perf_counter() - self.received_at)
                self.received_at = None

    def _publish(self, kind: str, *fields) -> None:
        self.flush()  # text before a block boundary goes first
        self.seq += 1
        publish(self.conversation_id, [kind, self.message_id, self.seq, *fields])


def subscribe(conversation_id: int, subscriber: Subscriber) -> None:
    watchers = _subscribers.setdefault(conversation_id, set())
    if not watchers and cross_process():
        relay.watch(conversation_id)  # the first tab here: other processes route its frames to us
    watchers.add(subscriber)


def unsubscribe(conversation_id: int, subscriber: Subscriber) -> None:
    watchers = _subscribers.get(conversation_id)
    if watchers is not None:
        watchers.discard(subscriber)
        if not watchers:
            del _subscribers[conversation_id]
            if cross_process():
                relay.unwatch(conversation_id)


def watched() -> list[int]:
    """The conversations some tab in this process watches."""
    return list(_subscribers)


def cross_process() -> bool:
    return bool(settings.REDIS_URL)


def publish(conversation_id: int, frame: list) -> None:
    """One encode and one push per watching tab; never blocks."""
    text = encode(frame)
    metrics.FRAMES.inc()
    deliver(conversation_id, text)
    if cross_process():
        relay.put(conversation_id, text)


def deliver(conversation_id: int, text: str) -> None:
    """Hand an encoded frame to this process's tabs on that conversation."""
    for subscriber in tuple(_subscribers.get(conversation_id, ())):
        subscriber.push(text)


def reset() -> None:
    """Forget this process's background tasks (each test has its own event loop)."""
    global loop_lag
    if loop_lag.task is not None:
        try:
            loop_lag.task.cancel()
        except RuntimeError:  # its loop is already closed
            pass
    loop_lag = LoopLag()
    relay.reset()


def detached(coro) -> asyncio.Task:
    """A task that outlives the request or socket that started it.

    It runs in an empty context: inheriting a request's would tie its database calls to that
    request's thread executor, which shuts down when the response is sent.
    """
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


def live_reply(message_id: int, conversation_id: int) -> LiveReply | None:
    """The reply streaming here, if it belongs to that conversation (the ownership check)."""
    reply = live_replies.get(message_id)
    return reply if reply is not None and reply.conversation_id == conversation_id else None


def register(message_id: int, reply: LiveReply) -> Callable[[], None]:
    live_replies[message_id] = reply
    return lambda: live_replies.pop(message_id, None)
