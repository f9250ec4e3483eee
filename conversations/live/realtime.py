"""Frames from a streaming reply to the websockets watching its conversation.

Fan-out is in-process: `publish` hands each frame straight to the subscribed consumers' outboxes,
with no channel-layer round trip and no thread hop (a direct send costs about 10 µs; a `group_send` to a
consumer about 200 µs under daphne, because `AsyncConsumer.dispatch` makes a thread hop per message).

With several workers (REDIS_URL set), `relay` also routes frames, in order and batched, to the
other processes that have a tab on that conversation, and only to those: once started, it sits on
the event loop's runtime, where `publish` and `subscribe` find it.

Frames are compact JSON arrays, `[kind, message_id, seq, ...]`; seq counts up from 1 per reply so
a tab can spot a gap and ask for a snapshot:

    ["b", id, seq, index, block_type, html]  a content block starts: its empty element
    ["d", id, seq, text]                   new text for the open block (never text already sent)
    ["d", id, seq, text, closed, line(, keep, add, after)]  the same for a text block, rendered
                                           (rendering.LiveMarkdown): the HTML of markdown blocks
                                           closed since the last frame goes before the open one,
                                           which shows before + line + after; before and after
                                           come when they change (a line ended): before as the
                                           last one's first `keep` UTF-16 units + add; closed,
                                           "" or [keep, add] of the last before + line + after
                                           (the block that closed, as it showed). When the line's
                                           HTML only grew by the text, escaped, the frame is
                                           ["d", id, seq, text] and the page appends it.
    ["c", id, seq, index, html]            a block is complete: its final element; a text block's
                                           markdown blocks that closed while it streamed are not
                                           sent again: KEPT marks their place
    ["e", id, seq, html]                   the reply ended: the whole message, rendered; when the
                                           tab's blocks are already final (every frame applied),
                                           its blocks are one <template data-kept> (rendering)
    ["s", id, seq, blocks]                 snapshot; blocks = [[block_type, html, text so far], ...]
                                           (an open text block adds before, after, line and the
                                           closed blocks' HTML)
    ["a", send_id, html, conversation_id, url, title]  a send was accepted: the turn's HTML
    ["n", send_id, message]                a send was refused; the composer keeps the text
    ["t", conversation_id, title]          the conversation got a generated title (titles.py)
    ["x", message]                         a control frame was refused; the socket stays up
    ["r"]                                  frames were dropped (slow tab): resync every reply

All HTML comes from the server's templates (`rendering`); the page's script only places it.
"""

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from django.conf import settings

from conversations.live import metrics, runtime
from conversations.live.runtime import LiveReply, Subscriber

log = logging.getLogger(__name__)

# Names this process in Message.worker.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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

# In a text block's stop frame, where the markdown blocks that closed while it streamed go: the
# sanitizer removes comments from rendered markdown, so the block's own HTML cannot hold it.
KEPT = "<!--kept-->"


LAGGING = 0.005  # event-loop lag (runtime.lag) past which text is coalesced even after a quiet interval


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
        # While a text block is open: its HTML fields of a text frame, rendered once per frame.
        self.render_text: Callable[[], list[str]] | None = None

    def block_started(self, index: int, block_type: str, html: str) -> None:
        self._publish("b", index, block_type, html)

    def text(self, text: str) -> None:
        """Coalesce only under load: text after a quiet interval goes out at once (the leading
        edge); text that comes faster than the frame interval, or while the event loop lags,
        waits for the next frame, so frames grow instead of queueing."""
        self.pending += text
        if self.flush_handle is None:
            here = runtime.current()
            loop = here.loop
            due = self.last_flush + settings.CHAT_FRAME_INTERVAL
            if due <= loop.time() and here.lag < LAGGING:
                self.flush()
            else:
                self.flush_handle = loop.call_at(max(due, loop.time()), self.flush)

    def block_done(self, index: int, html: str, shown: str = "") -> None:
        """`shown`: the HTML of the markdown blocks that closed while the block streamed, which
        the tab has; the frame carries KEPT in its place."""
        self._publish("c", index, html.replace(shown, KEPT, 1) if shown else html)

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
            rendered = self.render_text() if self.render_text is not None else ()
            publish(self.conversation_id, ["d", self.message_id, self.seq, text, *rendered])
            self.last_flush = flushed_at
            if self.received_at is not None:
                metrics.FIRST_TOKEN_SECONDS.observe(time.perf_counter() - self.received_at)
                self.received_at = None

    def _publish(self, kind: str, *fields) -> None:
        self.flush()  # text before a block boundary goes first
        self.seq += 1
        publish(self.conversation_id, [kind, self.message_id, self.seq, *fields])


def subscribe(conversation_id: int, subscriber: Subscriber) -> None:
    """A tab here watches the conversation. Before the relay starts, there is nothing to tell it:
    once it has its channel, it watches every conversation tabs here watch."""
    here = runtime.current()
    watchers = here.subscribers.setdefault(conversation_id, set())
    if not watchers and here.relay is not None:
        here.relay.watch_soon(conversation_id)  # the first tab here: other processes route its frames to us
    watchers.add(subscriber)


def unsubscribe(conversation_id: int, subscriber: Subscriber) -> None:
    here = runtime.current()
    watchers = here.subscribers.get(conversation_id)
    if watchers is not None:
        watchers.discard(subscriber)
        if not watchers:
            del here.subscribers[conversation_id]
            if here.relay is not None:
                here.relay.unwatch_soon(conversation_id)


def watched() -> list[int]:
    """The conversations some tab in this process watches."""
    return list(runtime.current().subscribers)


def cross_process() -> bool:
    return bool(settings.REDIS_URL)


def publish(conversation_id: int, frame: list) -> None:
    """One encode and one push per watching tab, and to the relay when it runs; never blocks."""
    text = encode(frame)
    metrics.FRAMES.inc()
    here = runtime.current()
    _push(here, conversation_id, text)
    if here.relay is not None:
        here.relay.put(conversation_id, text)


def deliver(conversation_id: int, text: str) -> None:
    """Hand an encoded frame to this process's tabs on that conversation."""
    _push(runtime.current(), conversation_id, text)


def _push(here: runtime.Runtime, conversation_id: int, text: str) -> None:
    for subscriber in tuple(here.subscribers.get(conversation_id, ())):
        subscriber.push(text)


def live_reply(message_id: int, conversation_id: int) -> LiveReply | None:
    """The reply streaming here, if it belongs to that conversation (the ownership check)."""
    reply = runtime.current().live_replies.get(message_id)
    return reply if reply is not None and reply.conversation_id == conversation_id else None


def register(message_id: int, reply: LiveReply) -> Callable[[], None]:
    """Make a reply findable while it streams here; the returned function forgets it."""
    live_replies = runtime.current().live_replies
    live_replies[message_id] = reply
    return lambda: live_replies.pop(message_id, None)
