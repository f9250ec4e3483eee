"""The process's state that belongs to one event loop, in one object with one `reset()`.

Tasks, Redis clients, httpx pools and the sockets' queues all belong to the event loop that made
them. A server runs one loop, but each async test runs its own: so everything loop-bound lives on
the loop's `Runtime` (tasks, tabs, live replies, relay, API client, loop-lag watcher), `current()`
returns the running loop's, and `reset()` cancels its background tasks and forgets it.
Each module keeps its own logic and keeps its state here.
"""

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, Protocol


class Subscriber(Protocol):
    def push(self, frame: str) -> None: ...


class LiveReply(Protocol):
    conversation_id: int

    def snapshot(self) -> list: ...

    def stop(self) -> None: ...


class Relay(Protocol):
    """What the in-process fan-out (realtime) asks of the relay across processes (relay)."""

    def put(self, conversation_id: int, text: str) -> None: ...

    def watch_soon(self, conversation_id: int) -> None: ...

    def unwatch_soon(self, conversation_id: int) -> None: ...


class Runtime:
    """One event loop's share of the process."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.background: dict[str, asyncio.Task] = {}  # one task per job, by name (see `ensure`)
        self.tasks: set[asyncio.Task] = set()  # replies and title calls (generation.wait_all waits)
        self.live_replies: dict[int, LiveReply] = {}  # streaming here, by message id
        self.subscribers: dict[int, set[Subscriber]] = {}  # tabs here, by conversation
        self.sockets: dict[int, set] = {}  # open sockets here, by user (consumers' account check)
        self.relay: Relay | None = None  # frames across processes; relay.start() when REDIS_URL is set
        self.client: Any = None  # the SDK client (llm.get_client) and the settings it was made with
        self.client_config: tuple = ()
        self.lag = 0.0  # seconds the loop ran its last timer late (sampled every 10 ms; `watch_lag`)

    def ensure(self, name: str, start: Callable[[], Coroutine]) -> asyncio.Task:
        """Start the background task `name` (`start()`, detached) unless it already runs."""
        task = self.background.get(name)
        if task is None or task.done():
            task = self.background[name] = detached(start())
        return task

    def watch_lag(self) -> None:
        self.ensure("loop lag", self._sample_lag)

    async def _sample_lag(self) -> None:
        while True:
            due = self.loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.lag = max(0.0, self.loop.time() - due)

    def cancel_background(self) -> None:
        for task in self.background.values():
            try:
                task.cancel()
            except RuntimeError:  # its loop is already closed
                pass


_current: Runtime | None = None


def current() -> Runtime:
    """The running event loop's runtime; a new loop (each async test) gets a new one."""
    global _current
    loop = asyncio.get_running_loop()
    if _current is None or _current.loop is not loop:
        _current = Runtime(loop)
    return _current


def reset() -> None:
    """Cancel the background tasks and forget everything loop-bound (tests, between event loops)."""
    global _current
    if _current is not None:
        _current.cancel_background()
    _current = None


def detached(coro: Coroutine) -> asyncio.Task:
    """A task that outlives the request or socket that started it.

    It runs in an empty context: inheriting a request's would tie its database calls to that
    request's thread executor, which shuts down when the response is sent.
    """
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
