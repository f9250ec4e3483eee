"""SQLite with one writer at a time per process, queued in Python, first come first served.

SQLite allows one write transaction at a time. Without this, a burst of requests each open
`BEGIN IMMEDIATE` from their own thread and then sleep in SQLite's busy handler, whose back-off
grows, until one gives up with "database is locked". Here they wait on a lock instead and start
the moment the writer before them commits. The queue is fair: a long job written in many short
transactions (an import) lets each writer that queued meanwhile go before its next one. A write
outside a transaction (a single UPDATE, as a rename) queues the same way. Other processes still
meet SQLite's own lock (and its 20 s busy timeout).
"""

import threading
from collections import deque

from django.db.backends.sqlite3 import base

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class FairLock:
    """A lock handed to its waiters in the order they came."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by the holder when it hands over

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().release()  # still held: now by the next in line
            else:
                self._held = False


_writer = FairLock()


class CursorWrapper(base.SQLiteCursorWrapper):
    """A write statement outside a transaction takes its turn like a transaction does."""

    def execute(self, query, params=None):
        if self.connection.in_transaction or not query.lstrip()[:7].upper().startswith(WRITES):
            return super().execute(query, params)
        _writer.acquire()
        try:
            return super().execute(query, params)
        finally:
            _writer.release()


class DatabaseWrapper(base.DatabaseWrapper):
    holds_writer = False

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=CursorWrapper)

    def _start_transaction_under_autocommit(self):
        _writer.acquire()
        self.holds_writer = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self.holds_writer:
            self.holds_writer = False
            _writer.release()

    def _then_release(method):  # noqa: N805 (applied to the base class's methods below)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            finally:
                self._release_writer()

        return wrapper

    # The transaction ends (or the connection closes): the next writer may start.
    _commit = _then_release(base.DatabaseWrapper._commit)
    _rollback = _then_release(base.DatabaseWrapper._rollback)
    _close = _then_release(base.DatabaseWrapper._close)
