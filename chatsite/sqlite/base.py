"""SQLite with one writer at a time per process, queued in Python.

SQLite allows one write transaction at a time. Without this, a burst of requests each open
`BEGIN IMMEDIATE` from their own thread and then sleep in SQLite's busy handler, whose back-off
grows, until one gives up with "database is locked". Here they wait on a lock instead and start
the moment the writer before them commits. Other processes still meet SQLite's own lock (and its
20 s busy timeout).
"""

import threading

from django.db.backends.sqlite3 import base

_writer = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    holds_writer = False

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
