"""Frames across processes (REDIS_URL set): routed only to processes that have a tab watching.

Each process has one channel-layer channel. A process with a tab on a conversation adds that
channel to the conversation's watcher set in Redis (a sorted set whose scores are expiry times,
refreshed every WATCH_TTL / 3, so a dead process drops out). Frames published here are batched
(one channel-layer message per watching process every RELAY_INTERVAL at most) and sent only to
those channels; with every tab on the generating process, nothing crosses Redis at all.

Every process also listens on WORKERS_GROUP for `stop` and snapshot requests about replies it runs.

Started by `start()`, the relay sits on the event loop's runtime: `realtime` hands it frames and
watch changes there, and never imports this module.
"""

import asyncio
import logging
import time
from collections import defaultdict

import redis.asyncio as aioredis
from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import TimeoutError as RedisTimeout

from conversations.live import metrics, realtime, runtime

log = logging.getLogger(__name__)

WORKERS_GROUP = "chat-workers"  # stop and snapshot requests, to whichever process runs a reply
RELAY_INTERVAL = 0.005
WATCH_TTL = 60
RETRY = 2.0  # seconds between reconnects while Redis is down


class _Process:
    """This process's side of the relay, in one event loop: its channel, its Redis client, and
    the tasks that listen, relay and keep its watches fresh (on the runtime, which cancels them)."""

    def __init__(self, here: runtime.Runtime) -> None:
        self.channel = ""  # named by the listener before anything is relayed to us; kept after
        self.ready = asyncio.Event()
        self.down = False  # Redis failed, and the listener is retrying
        self.redis = aioredis.from_url(settings.REDIS_URL)
        self.queue: asyncio.Queue = asyncio.Queue()  # drained even while Redis is down
        here.ensure("relay: listen", self._listen)
        here.ensure("relay: send", self._relay)
        here.ensure("relay: refresh watches", self._refresh)

    async def _listen(self) -> None:
        """Receive other processes' frames and requests; when Redis fails, log it once and try
        again (every RETRY seconds), so the process recovers by itself. The channel keeps its
        name across reconnects, so the watches that name it stay true. A read that times out (a
        busy machine) is not a failure: receive again."""
        layer = get_channel_layer()
        self.channel = await layer.new_channel()
        while True:
            try:
                await layer.group_add(WORKERS_GROUP, self.channel)
                if self.down:
                    log.warning("relay: Redis is reachable again")
                self.down = False
                self.ready.set()
                for conversation_id in realtime.watched():  # tabs that came before the channel
                    await self.watch(conversation_id)
                while True:
                    try:
                        event = await layer.receive(self.channel)
                    except (RedisTimeout, TimeoutError):
                        continue
                    await self._handle(layer, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.down:
                    log.warning("relay: Redis is unreachable (%s); retrying every %s s", exc, RETRY)
                self.down = True
                self.ready.clear()
                await asyncio.sleep(RETRY)

    async def _handle(self, layer, event: dict) -> None:
        if event["type"] == "frames.batch":
            for conversation_id, text in event["frames"]:
                realtime.deliver(conversation_id, text)
            return
        reply = realtime.live_reply(event.get("message", 0), event.get("conversation", 0))
        if reply is None:
            return
        if event["type"] == "reply.stop":
            reply.stop()
        elif event["type"] == "reply.resync":
            # To the asking process's tabs on that conversation (a snapshot is safe for all).
            frames = [(reply.conversation_id, realtime.encode(reply.snapshot()))]
            await layer.send(event["reply_to"], {"type": "frames.batch", "frames": frames})

    async def _relay(self) -> None:
        """Everything queued goes out at once, one message per watching process; then at most one
        message per process every RELAY_INTERVAL, so Redis traffic grows with processes."""
        layer = get_channel_layer()
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            if not self.ready.is_set():
                continue  # Redis is down: no other process can be reached; tabs here got them
            try:
                for channel, frames in (await self._routes(batch)).items():
                    await layer.send(channel, {"type": "frames.batch", "frames": frames})
                    metrics.RELAY_MESSAGES.inc()
            except Exception:
                log.exception("could not relay %d frames to other workers", len(batch))
            await asyncio.sleep(RELAY_INTERVAL)

    async def _routes(self, batch: list[tuple[int, str]]) -> dict[str, list[tuple[int, str]]]:
        """Each other process watching a conversation in the batch, with its frames, in order."""
        conversations = list(dict.fromkeys(conversation_id for conversation_id, _ in batch))
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversations:
                pipe.zrangebyscore(_key(conversation_id), time.time(), "+inf")
            found = await pipe.execute()
        watchers = {
            conversation_id: [c.decode() for c in channels if c.decode() != self.channel]
            for conversation_id, channels in zip(conversations, found, strict=True)
        }
        routes: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for conversation_id, text in batch:
            for channel in watchers[conversation_id]:
                routes[channel].append((conversation_id, text))
        return routes

    # --- what realtime calls, through the runtime ---------------------------------------------

    def put(self, conversation_id: int, text: str) -> None:
        self.queue.put_nowait((conversation_id, text))

    def watch_soon(self, conversation_id: int) -> None:
        runtime.detached(self.quietly(self.watch(conversation_id)))

    def unwatch_soon(self, conversation_id: int) -> None:
        runtime.detached(self.quietly(self.unwatch(conversation_id)))

    # --- Redis ------------------------------------------------------------------------------------

    async def watch(self, conversation_id: int) -> None:
        if self.channel:
            key = _key(conversation_id)
            await self.redis.zadd(key, {self.channel: time.time() + WATCH_TTL})
            await self.redis.expire(key, WATCH_TTL)

    async def unwatch(self, conversation_id: int) -> None:
        if self.channel:
            await self.redis.zrem(_key(conversation_id), self.channel)

    async def quietly(self, coro) -> None:
        """A watch change in the background: when Redis is down, the listener says so and the
        next refresh (or its reconnect) catches up."""
        try:
            await coro
        except Exception:
            pass

    async def _refresh(self) -> None:
        await self.ready.wait()
        while True:
            await asyncio.sleep(WATCH_TTL / 3)
            try:
                for conversation_id in realtime.watched():
                    await self.watch(conversation_id)
                    await self.redis.zremrangebyscore(_key(conversation_id), "-inf", time.time())
            except Exception:
                log.exception("could not refresh this process's watches")


def _key(conversation_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:watchers:{conversation_id}"


def _here() -> _Process:
    """This event loop's relay, started on first use."""
    here = runtime.current()
    if not isinstance(here.relay, _Process):
        here.relay = _Process(here)
    return here.relay


def start() -> None:
    """Once per process (per event loop): listen for other processes' frames and requests, and
    take this process's frames to the processes that watch them."""
    _here()


async def ask_workers(kind: str, message_id: int, conversation_id: int) -> bool:
    """Forward a `stop` or `resync` (snapshot) request to whichever process runs the reply; the
    snapshot comes back to this process's tabs. False when Redis cannot be reached."""
    process = _here()
    if not process.ready.is_set():
        return False
    request = {"type": f"reply.{kind}", "message": message_id, "conversation": conversation_id}
    try:
        await get_channel_layer().group_send(WORKERS_GROUP, {**request, "reply_to": process.channel})
    except Exception:
        log.warning("relay: could not ask the other workers (Redis is unreachable)")
        return False
    return True
