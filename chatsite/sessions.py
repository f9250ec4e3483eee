"""Sessions read from the cache and written through to the database (Django's cached_db), that
fall back to the database alone when the cache (Redis) is down: a page never fails because of it.
A cookie that cannot be a session key (Django's are 32 characters of a-z and 0-9) is not looked up."""

import logging
import re

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
SESSION_KEY = re.compile(r"[a-z0-9]{8,40}")


class SessionStore(cached_db.SessionStore):
    def _plausible(self) -> bool:
        if self.session_key is None or SESSION_KEY.fullmatch(self.session_key):
            return True
        self._session_key = None
        return False

    def load(self):
        if not self._plausible():
            return {}
        try:
            return super().load()
        except RedisError as exc:
            log.warning("session cache unreachable (%s): reading the database", exc)
            return DatabaseStore.load(self)

    async def aload(self):
        if not self._plausible():
            return {}
        try:
            return await super().aload()
        except RedisError as exc:
            log.warning("session cache unreachable (%s): reading the database", exc)
            return await DatabaseStore.aload(self)

    def exists(self, session_key):
        try:
            return super().exists(session_key)
        except RedisError:
            return DatabaseStore.exists(self, session_key)

    def delete(self, session_key=None):
        try:
            super().delete(session_key)
        except RedisError:
            DatabaseStore.delete(self, session_key)
