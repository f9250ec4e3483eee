"""Frames from a streaming reply to the websockets watching its conversation.

Fan-out is in-process: `publish` hands each frame straight to the subscribed consumers' outboxes,
with no channel-layer round trip and no thread hop (see SPEC.md, "Streaming pipeline").

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

import json
from collections.abc import Callable
from typing import Protocol


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


def publish(conversation_id: int, frame: list) -> None:
    """One encode and one push per watching tab; never blocks."""
    watchers = _subscribers.get(conversation_id)
    if watchers:
        text = encode(frame)
        for subscriber in tuple(watchers):
            subscriber.push(text)


def watcher_count(conversation_id: int) -> int:
    return len(_subscribers.get(conversation_id, ()))


def live_reply(message_id: int, conversation_id: int) -> LiveReply | None:
    """The reply streaming here, if it belongs to that conversation (the ownership check)."""
    reply = live_replies.get(message_id)
    return reply if reply is not None and reply.conversation_id == conversation_id else None


def register(message_id: int, reply: LiveReply) -> Callable[[], None]:
    live_replies[message_id] = reply
    return lambda: live_replies.pop(message_id, None)
