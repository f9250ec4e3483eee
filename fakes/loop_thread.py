"""An aiohttp application served on its own event loop in a daemon thread, from sync or async code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aiohttp import web


class LoopThread:
    """Starts and stops one server thread; `name` is what error messages call the server."""

    def __init__(self, name: str, thread_name: str, host: str, port: int, app: Callable[[], web.Application]):
        self.name = name
        self.host = host
        self.port = port
        self._thread_name = thread_name
        self._app = app  # called on the server's loop, once per start
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self.bound_port: int | None = None
        self._startup_error: BaseException | None = None

    @property
    def native_id(self) -> int | None:
        """The thread's id for /proc (its CPU time), or None when it is not running."""
        return self._thread.native_id if self._thread is not None else None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running")
        ready = threading.Event()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, args=(ready,), name=self._thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.name} did not start within 10 s")
        if self._startup_error is not None or self.bound_port is None:
            self._thread.join(5)
            self._thread = None
            # Anything but an OSError was already printed by the thread's excepthook.
            raise self._startup_error or RuntimeError(f"{self.name} failed to start")

    def stop(self) -> None:
        thread, loop = self._thread, self.loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._thread = None
            self.loop = None
            self._runner = None
            self.bound_port = None

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the server's loop (from any thread); nothing when it is not running."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(callback)

    async def sleep(self, seconds: float) -> None:
        """Sleep, but return early once the server is stopping."""
        if seconds <= 0:
            return
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self._startup())
        except OSError as exc:  # e.g. the port is taken; start() re-raises it
            self._startup_error = exc
            loop.close()
            return
        finally:
            ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _startup(self) -> None:
        self._closing = asyncio.Event()
        # handler_cancellation: like a real server, stop generating when the client hangs up.
        # shutdown_timeout: don't wait the default 60 s for in-flight streams on stop().
        runner = web.AppRunner(self._app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.bound_port = runner.addresses[0][1]

    async def _shutdown(self) -> None:
        assert self._closing is not None and self._runner is not None
        self._closing.set()  # wakes Stall / pacing sleeps so streams end promptly
        await self._runner.cleanup()
