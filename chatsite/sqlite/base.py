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

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer()
