"""Frames from a streaming reply to the websockets watching its conversation.

Fan-out is in-process: `publish` hands each frame straight to the subscribed consumers' outboxes,
with no channel-layer round trip and no thread hop (see SPEC.md, "Streaming pipeline").

With several workers (REDIS_URL set), each frame is also relayed once, in order, through the
channel layer to the conversation's group, so tabs connected to other processes get it too; and
every process listens on WORKERS_GROUP for `stop` and snapshot requests about replies it runs.

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
WORKERS_GROUP = "chat-workers"


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


def conversation_group(conversation_id: int) -> str:
    return f"conversation-{conversation_id}"


def publish(conversation_id: int, frame: list) -> None:
    """One encode and one push per watching tab; never blocks."""
    watchers = _subscribers.get(conversation_id)
    text = encode(frame)
    if watchers:
        for subscriber in tuple(watchers):
            subscriber.push(text)
    if cross_process():
        _relay.put(conversation_id, text)


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
        layer = get_channel_layer()
        while True:
            conversation_id, text = await queue.get()
            event = {"type": "stream.frame", "origin": WORKER_ID, "frame": text}
            try:
                await layer.group_send(conversation_group(conversation_id), event)
            except Exception:
                log.exception("could not relay a frame to other workers")


_relay = _Relay()
_listener: asyncio.Task | None = None


def detached(coro) -> asyncio.Task:
    """A task that outlives the request or socket that started it.

    It runs in an empty context: inheriting a request's would tie its database calls to that
    request's thread executor, which shuts down when the response is sent.
    """
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


def start_worker_listener() -> None:
    """Once per process (cross-process mode): answer stop and snapshot requests for our replies."""
    global _listener
    if cross_process() and (_listener is None or _listener.done()):
        _listener = detached(_listen())


async def _listen() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(WORKERS_GROUP, channel)
    while True:
        event = await layer.receive(channel)
        reply = live_reply(event.get("message", 0), event.get("conversation", 0))
        if reply is None:
            continue
        if event["type"] == "reply.stop":
            reply.stop()
        elif event["type"] == "reply.resync":
            await layer.send(
                event["reply_to"], {"type": "stream.frame", "origin": "", "frame": encode(reply.snapshot())}
            )


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


def watcher_count(conversation_id: int) -> int:
    return len(_subscribers.get(conversation_id, ()))


def live_reply(message_id: int, conversation_id: int) -> LiveReply | None:
    """The reply streaming here, if it belongs to that conversation (the ownership check)."""
    reply = live_replies.get(message_id)
    return reply if reply is not None and reply.conversation_id == conversation_id else None


def register(message_id: int, reply: LiveReply) -> Callable[[], None]:
    live_replies[message_id] = reply
    return lambda: live_replies.pop(message_id, None)
