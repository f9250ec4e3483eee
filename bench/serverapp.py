"""The app as daphne serves it, plus what the benchmark needs to observe it from outside.

`application` wraps `chatsite.asgi.application` without changing what it does:

* Every SQL statement that goes through Django's cursor wrapper is counted (reads, write statements,
  write statements that changed rows, write transactions, writes per table). Counting patches
  `CursorWrapper.execute`/`executemany` and `BaseDatabaseWrapper.commit`/`rollback` in this
  process only: a few hundred nanoseconds per statement.
* Each HTTP request gets its own counter (a context variable, which `sync_to_async` carries into
  the worker thread) and its server time: from the ASGI call to the last body byte handed to
  daphne. Replies started by a request run in an empty context, so they are not charged to it.
* Statement time is summed, and each `BEGIN IMMEDIATE` is timed: that is the wait for SQLite's
  write lock.
* A 10 ms ticker measures how late the event loop wakes up (event-loop lag).
* Sends: `conversations.sending.message_post` / `conversation_post` (the one service both the
  websocket and the POST path call: validate, commit, render the turn) are wrapped to record, per
  send, its wall time, the CPU time of the thread that ran it (`time.thread_time()`: all of that
  work runs in one thread) and its statements. The wrapper only observes; the app's function runs
  as it is.
* Websockets pass through, observed: a client's `{"type": "send"|"start", "id": ...}` frame is
  stamped as it comes out of `receive()`, and the answer (`["a", id, ...]` or `["n", id, ...]`) as
  it goes into daphne's `send()`: the websocket path's server time, as the HTTP one is measured.
* `GET /__bench__/stats` answers all of that as JSON (`?reset=1` empties the request and send logs
  and the lag samples after reading).
"""

import asyncio
import contextvars
import json
import re
import threading
import time
from collections import Counter, deque

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from chatsite.asgi import application as app_application

try:
    from conversations import sending as _sending
except ImportError:  # pragma: no cover - the app moved its send service; sends go uncounted
    _sending = None

_WRITE_RE = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+"?(\w+)"?',
    re.IGNORECASE,
)

_lock = threading.Lock()
_totals: Counter = Counter()
_tables: Counter = Counter()
_seconds: Counter = Counter()
_request: contextvars.ContextVar[Counter | None] = contextvars.ContextVar("bench_request", default=None)


def _count(cursor: CursorWrapper, sql: str, statements: int) -> None:
    match = _WRITE_RE.match(sql) if isinstance(sql, str) else None
    per_request = _request.get()
    with _lock:
        _totals["statements"] += statements
        if per_request is not None:
            per_request["statements"] += statements
        if match is None:
            return
        _totals["write_statements"] += statements
        if per_request is not None:
            per_request["write_statements"] += statements
        # An UPDATE or DELETE that matched nothing wrote nothing (the orphan sweep, mostly). An
        # INSERT ... RETURNING reports its rowcount only once fetched, so inserts always count.
        if not match.group(0).lstrip()[:1].upper() == "I" and getattr(cursor.cursor, "rowcount", -1) == 0:
            _totals["noop_write_statements"] += statements
            return
        _tables[match.group(1).lower()] += statements
        connection = cursor.db
        if connection.in_atomic_block:
            connection._bench_dirty = True
        else:
            _totals["write_transactions"] += 1
            if per_request is not None:
                per_request["write_transactions"] += 1


_execute = CursorWrapper.execute
_executemany = CursorWrapper.executemany
_commit = BaseDatabaseWrapper.commit
_rollback = BaseDatabaseWrapper.rollback


_begin_waits: deque[float] = deque(maxlen=200_000)


def _counted_execute(self, sql, params=None):
    started = time.perf_counter()
    result = _execute(self, sql, params)
    elapsed = time.perf_counter() - started
    _count(self, sql, 1)
    with _lock:
        _seconds["statements"] += elapsed
        if isinstance(sql, str) and sql.startswith("BEGIN"):
            # BEGIN IMMEDIATE takes SQLite's write lock: its duration is the wait for that lock.
            _seconds["begin"] += elapsed
            _begin_waits.append(elapsed)
    return result


def _counted_executemany(self, sql, param_list):
    result = _executemany(self, sql, param_list)
    _count(self, sql, 1)
    return result


def _counted_commit(self):
    if getattr(self, "_bench_dirty", False):
        self._bench_dirty = False
        per_request = _request.get()
        with _lock:
            _totals["write_transactions"] += 1
            if per_request is not None:
                per_request["write_transactions"] += 1
    return _commit(self)


def _counted_rollback(self):
    self._bench_dirty = False
    return _rollback(self)


CursorWrapper.execute = _counted_execute
CursorWrapper.executemany = _counted_executemany
BaseDatabaseWrapper.commit = _counted_commit
BaseDatabaseWrapper.rollback = _counted_rollback


class _LoopLag:
    """How late a 10 ms sleep wakes up: a direct measure of a busy event loop."""

    interval = 0.01

    def __init__(self) -> None:
        self.samples: deque[float] = deque(maxlen=200_000)
        self.task: asyncio.Task | None = None

    def ensure(self) -> None:
        if self.task is None:
            loop = asyncio.get_running_loop()
            self.task = loop.create_task(self._run(), context=contextvars.Context())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, loop.time() - start - self.interval))

    def summary(self) -> dict:
        data = sorted(self.samples)
        if not data:
            return {"samples": 0}

        def pick(q: float) -> float:
            return data[min(len(data) - 1, int(q * len(data)))] * 1000

        return {"samples": len(data), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": data[-1] * 1000}


_lag = _LoopLag()
_requests: deque[dict] = deque(maxlen=5000)
_sends: deque[dict] = deque(maxlen=20000)  # one per call of the send service
_ws_sends: deque[dict] = deque(maxlen=20000)  # one per send answered over a websocket


def _observed_send(function):
    def wrapper(*args, **kwargs):
        outer = _request.get()
        counter: Counter = Counter()
        token = _request.set(counter)
        started, cpu = time.perf_counter(), time.thread_time()
        ok = False
        try:
            result = function(*args, **kwargs)
            ok = True
            return result
        finally:
            record = {
                "path": "post" if outer is not None else "websocket",
                "ok": ok,
                "seconds": time.perf_counter() - started,
                "cpu_seconds": time.thread_time() - cpu,
                **counter,
            }
            _request.reset(token)
            if outer is not None:  # a POST: its request counter includes the send's statements
                outer.update(counter)
            with _lock:
                _sends.append(record)

    wrapper.__wrapped__ = function
    return wrapper


if _sending is not None:
    for _name in ("message_post", "conversation_post"):
        if hasattr(_sending, _name):
            setattr(_sending, _name, _observed_send(getattr(_sending, _name)))

_SEND_FRAME_RE = re.compile(r'"type"\s*:\s*"(?:send|start)"')
_ANSWER_RE = re.compile(r'^\["([an])","((?:[^"\\]|\\.)*)"')


def stats(reset: bool = False) -> dict:
    with _lock:
        waits = sorted(_begin_waits)
        body = {
            "totals": dict(_totals),
            "seconds": dict(_seconds),
            "begin_wait_ms": {
                "n": len(waits),
                "p50": waits[len(waits) // 2] * 1000 if waits else None,
                "p99": waits[min(len(waits) - 1, int(0.99 * len(waits)))] * 1000 if waits else None,
                "max": waits[-1] * 1000 if waits else None,
            },
            "write_tables": dict(_tables),
            "requests": list(_requests),
            "sends": list(_sends),
            "ws_sends": list(_ws_sends),
            "loop_lag": _lag.summary(),
            "time": time.monotonic(),
        }
        if reset:
            _requests.clear()
            _sends.clear()
            _ws_sends.clear()
            _lag.samples.clear()
            _begin_waits.clear()
    return body


async def _answer_stats(scope, send) -> None:
    reset = b"reset=1" in scope.get("query_string", b"")
    payload = json.dumps(stats(reset)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _websocket(scope, receive, send):
    """The app's websocket, with each send's time from its frame to its answer recorded."""
    _lag.ensure()
    pending: dict[str, float] = {}  # send id -> perf_counter() when its frame was received

    async def observed_receive():
        message = await receive()
        text = message.get("text") if message["type"] == "websocket.receive" else None
        if text and _SEND_FRAME_RE.search(text):
            try:
                pending[str(json.loads(text).get("id"))] = time.perf_counter()
            except (ValueError, AttributeError):
                pass
        return message

    async def observed_send(message):
        text = message.get("text") if message["type"] == "websocket.send" else None
        if text and pending and text.startswith(('["a"', '["n"')):
            match = _ANSWER_RE.match(text)
            if match is not None:
                received = pending.pop(json.loads(f'"{match.group(2)}"'), None)
                if received is not None:
                    elapsed = time.perf_counter() - received
                    with _lock:
                        _ws_sends.append({"accepted": match.group(1) == "a", "server_seconds": elapsed})
        await send(message)

    return await app_application(scope, observed_receive, observed_send)


async def application(scope, receive, send):
    if scope["type"] == "websocket":
        return await _websocket(scope, receive, send)
    if scope["type"] != "http":
        return await app_application(scope, receive, send)
    _lag.ensure()
    if scope["path"] == "/__bench__/stats":
        return await _answer_stats(scope, send)
    counter: Counter = Counter()
    token = _request.set(counter)
    started = time.perf_counter()
    record = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope.get("query_string", b"").decode("latin-1"),
        "status": 0,
        "bytes": 0,
    }

    async def counting_send(message):
        if message["type"] == "http.response.start":
            record["status"] = message["status"]
        elif message["type"] == "http.response.body":
            record["bytes"] += len(message.get("body", b""))
            if not message.get("more_body"):
                record["server_seconds"] = time.perf_counter() - started
        await send(message)

    try:
        return await app_application(scope, receive, counting_send)
    finally:
        _request.reset(token)
        record.setdefault("server_seconds", time.perf_counter() - started)
        record.update(counter)
        with _lock:
            _requests.append(record)
