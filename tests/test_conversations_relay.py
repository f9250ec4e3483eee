"""conversations/relay.py: the process's channel survives a slow Redis."""

import asyncio

from redis.exceptions import TimeoutError as RedisTimeout

from conversations.live import relay, runtime


class SlowLayer:
    """A channel layer whose first reads time out, as they do on a busy machine."""

    def __init__(self, timeouts: int) -> None:
        self.timeouts = timeouts
        self.named = 0

    async def new_channel(self) -> str:
        self.named += 1
        return f"specific.test!{self.named}"

    async def group_add(self, group: str, channel: str) -> None:
        pass

    async def receive(self, channel: str) -> dict:
        if self.timeouts:
            self.timeouts -= 1
            raise RedisTimeout("Timeout reading from 127.0.0.1:6379")
        await asyncio.Event().wait()


async def test_a_read_timeout_keeps_the_channel_its_watches_name(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:6379/12"
    layer = SlowLayer(timeouts=3)
    monkeypatch.setattr(relay, "get_channel_layer", lambda: layer)
    runtime.reset()
    process = relay._here()
    try:
        await asyncio.sleep(0.2)
        assert layer.timeouts == 0, "the reads were retried"
        assert process.channel == "specific.test!1" and layer.named == 1
        assert process.ready.is_set() and not process.down
    finally:
        runtime.reset()


def test_two_instances_sharing_a_redis_database_keep_their_own_keys(settings):
    """REDIS_PREFIX names the watcher sets (and the channel layer's and cache's keys): two
    instances' conversation 1 are two keys (two test runs' clusters once shared one)."""
    settings.REDIS_PREFIX = "one"
    first = relay._key(1)
    settings.REDIS_PREFIX = "two"
    assert (first, relay._key(1)) == ("one:watchers:1", "two:watchers:1")
