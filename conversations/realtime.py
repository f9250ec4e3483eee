"""Frames from a streaming reply to the websockets watching its conversation.

Fan-out is in-process: `publish` hands each frame straight to the subscribed consumers' outboxes,
with no channel-layer round trip and no thread hop (see SPEC.md, "Streaming pipeline").

With several workers (REDIS_URL set), frames are also relayed, in order and batched (one channel
layer message per process every RELAY_INTERVAL at most), to every other process, which hands them
to its own tabs; and every process listens on WORKERS_GROUP for `stop` and snapshot requests about
replies it runs.

Frames are compact JSON arrays, `[kind, message_id, seq, ...]`; seq counts up from 1 per reply so
a tab can spot a gap and ask for a snapshot:

    ["b", id, seq, index, block_type]      a content block starts
    ["d", id, seq, text]                   new text for the open block (never text already sent)
    ["c", id, seq, index, html]            a text block is complete: its rendered markdown
    ["e", id, seq, html]                   the reply ended: the whole message, rendered
    ["s", id, seq, blocks]                 snapshot; blocks = [[block_type, html or null, text], ...]
    ["x", message]                         a control frame was refused; the socket stays up
    ["r"]                                  frames were dropped (slow tab): resync every reply
"""

import asyncio
import contextvars
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from typing import Protocol

from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

# Names this process: in Message.worker, and on frames relayed to other processes.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
WORKERS_GROUP = "chat-workers"  # stop and snapshot requests, to whichever process runs a reply
FRAMES_GROUP = "chat-frames"  # batches of frames, to every other process
RELAY_INTERVAL = 0.005


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


def subscribe(conversation_id: int, subscriber: Subscriber) -> None:
    _subscribers.setdefault(conversation_id, set()).add(subscriber)


def unsubscribe(conversation_id: int, subscriber: Subscriber) -> None:
    watchers = _subscribers.get(conversation_id)
    if watchers is not None:
        watchers.discard(subscriber)
        if not watchers:
            del _subscribers[conversation_id]


def cross_process() -> bool:
    return bool(settings.REDIS_URL)


def publish(conversation_id: int, frame: list) -> None:
    """One encode and one push per watching tab; never blocks."""
    text = encode(frame)
    _deliver(conversation_id, text)
    if cross_process():
        _relay.put(conversation_id, text)


def _deliver(conversation_id: int, text: str) -> None:
    for subscriber in tuple(_subscribers.get(conversation_id, ())):
        subscriber.push(text)


class _Relay:
    """Frames bound for other processes, sent in order by one task (per event loop)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    def put(self, conversation_id: int, text: str) -> None:
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.queue = asyncio.Queue()
            self.task = detached(self._send_all(self.queue))
        self.queue.put_nowait((conversation_id, text))

    async def _send_all(self, queue: asyncio.Queue) -> None:
        """Everything queued goes out as one message to every process; then at most one message
        per RELAY_INTERVAL, so Redis traffic grows with processes, not with streams."""
        layer = get_channel_layer()
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await layer.group_send(
                    FRAMES_GROUP, {"type": "frames.batch", "origin": WORKER_ID, "frames": batch}
                )
            except Exception:
                log.exception("could not relay %d frames to other workers", len(batch))
            await asyncio.sleep(RELAY_INTERVAL)


_relay = _Relay()
_listener: asyncio.Task | None = None


def detached(coro) -> asyncio.Task:
    """A task that outlives the request or socket that started it.

    It runs in an empty context: inheriting a request's would tie its database calls to that
    request's thread executor, which shuts down when the response is sent.
    """
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


def start_worker_listener() -> None:
    """Once per process (cross-process mode): deliver other processes' frames to our tabs, and
    answer stop and snapshot requests for our replies."""
    global _listener
    stale = _listener is None or _listener.done() or _listener.get_loop() is not asyncio.get_running_loop()
    if cross_process() and stale:
        _listener = detached(_listen())


async def _listen() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(WORKERS_GROUP, channel)
    await layer.group_add(FRAMES_GROUP, channel)
    while True:
        event = await layer.receive(channel)
        if event["type"] == "frames.batch":
            if event["origin"] != WORKER_ID:  # our own frames were delivered in-process
                for conversation_id, text in event["frames"]:
                    _deliver(conversation_id, text)
            continue
        reply = live_reply(event.get("message", 0), event.get("conversation", 0))
        if reply is None:
            continue
        if event["type"] == "reply.stop":
            reply.stop()
        elif event["type"] == "reply.resync":
            await layer.send(event["reply_to"], {"type": "stream.frame", "frame": encode(reply.snapshot())})


async def ask_workers(kind: str, message_id: int, conversation_id: int, reply_to: str) -> None:
    """Forward a `stop` or `resync` (snapshot) request to whichever process runs the reply."""
    await get_channel_layer().group_send(
        WORKERS_GROUP,
        {
            "type": f"reply.{kind}",
            "message": message_id,
            "conversation": conversation_id,
            "reply_to": reply_to,
        },
    )


def live_reply(message_id: int, conversation_id: int) -> LiveReply | None:
    """The reply streaming here, if it belongs to that conversation (the ownership check)."""
    reply = live_replies.get(message_id)
    return reply if reply is not None and reply.conversation_id == conversation_id else None


def register(message_id: int, reply: LiveReply) -> Callable[[], None]:
    live_replies[message_id] = reply
    return lambda: live_replies.pop(message_id, None)
