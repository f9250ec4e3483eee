"""The Message Batches API in the fake (`/v1/messages/batches`): create, retrieve, list, cancel,
delete, and results as JSONL, with the shapes the SDK's types (MessageBatch,
MessageBatchIndividualResponse) parse.

Each request is answered as the fake answers a non-streamed message with no script queued (an echo,
or schema-fitting JSON for structured outputs), with the same simulated token usage. How a batch
goes is up to the test:

* ``hold = False`` (default): a batch has ended by the time it is first retrieved.
* ``hold = True``: batches stay ``in_progress`` until ``finish(batch_id, count)`` processes their
  first ``count`` requests (all by default); the batch ends once every request has.
* ``fail(custom_id, "errored" | "expired", message)``: that request's result, when it is processed.
* ``cancel``: ``canceling`` at once; the next retrieve shows it ended, with the requests processed so
  far kept and the rest ``canceled``.
* ``create_error``: an HttpError to answer the next create with (the whole batch refused).

As the real API says, the request counts other than ``processing`` are zero until the batch ends,
and ``results_url`` is null until then.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from fakes.scripts import HttpError, echo, http_error_response, split_chunks
from fakes.structured import structured_reply
from fakes.wire import RecordedRequest, new_id, request_id_header

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_REQUESTS = 100_000


@dataclass
class FakeBatch:
    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom_id -> result, once processed
    status: str = "in_progress"
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None

    def as_json(self, origin: str) -> dict[str, Any]:
        ended = self.status == "ended"
        counts = {"processing": 0 if ended else len(self.requests)}
        for kind in ("succeeded", "errored", "canceled", "expired"):
            counts[kind] = sum(r["type"] == kind for r in self.results.values()) if ended else 0
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": counts,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.created_at + timedelta(hours=24)),
            "ended_at": _iso(self.ended_at) if self.ended_at else None,
            "cancel_initiated_at": _iso(self.cancel_initiated_at) if self.cancel_initiated_at else None,
            "archived_at": None,
            "results_url": f"{origin}/v1/messages/batches/{self.id}/results" if ended else None,
        }


class FakeBatches:
    def __init__(
        self, keep_request: Callable[[RecordedRequest], None], answer: Callable[[dict], dict]
    ) -> None:
        self._keep_request = keep_request
        self._answer = answer  # the params of one request -> its message (as the fake answers it)
        self._lock = threading.Lock()
        self.batches: dict[str, FakeBatch] = {}
        self.hold = False
        self.failures: dict[str, tuple[str, str]] = {}
        self.create_error: HttpError | None = None

    def reset(self) -> None:
        with self._lock:
            self.batches.clear()
            self.failures.clear()
            self.hold = False
            self.create_error = None

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages/batches", self._create)
        router.add_get("/v1/messages/batches", self._list)
        router.add_get("/v1/messages/batches/{batch_id}", self._retrieve)
        router.add_post("/v1/messages/batches/{batch_id}/cancel", self._cancel)
        router.add_delete("/v1/messages/batches/{batch_id}", self._delete)
        router.add_get("/v1/messages/batches/{batch_id}/results", self._results)

    def fail(self, custom_id: str, kind: str = "errored", message: str = "fake batch error") -> None:
        self.failures[custom_id] = (kind, message)

    def finish(self, batch_id: str | None = None, count: int | None = None) -> None:
        """Process the first `count` requests (all) of a batch (the newest)."""
        with self._lock:
            batch = self.batches[batch_id] if batch_id else list(self.batches.values())[-1]
            for request in batch.requests[: len(batch.requests) if count is None else count]:
                self._process(batch, request)
            if len(batch.results) == len(batch.requests):
                self._end(batch)

    # --------------------------------------------------------------------------- internals

    def _process(self, batch: FakeBatch, request: dict[str, Any]) -> None:
        custom_id = request["custom_id"]
        if custom_id in batch.results:
            return
        kind, message = self.failures.get(custom_id, ("succeeded", ""))
        if kind == "succeeded":
            batch.results[custom_id] = {"type": "succeeded", "message": self._answer(request["params"])}
        elif kind == "errored":
            error = {"type": "invalid_request_error", "message": message}
            batch.results[custom_id] = {
                "type": "errored",
                "error": {"type": "error", "error": error, "request_id": new_id("req_")},
            }
        else:
            batch.results[custom_id] = {"type": kind}

    def _end(self, batch: FakeBatch) -> None:
        for request in batch.requests:
            batch.results.setdefault(request["custom_id"], {"type": "canceled"})
        batch.status = "ended"
        batch.ended_at = datetime.now(UTC)

    async def _record(self, request: web.Request) -> dict[str, Any] | None:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self._keep_request(RecordedRequest.of(request, body if isinstance(body, dict) else {}))
        return body if isinstance(body, dict) else None

    def _found(self, request: web.Request) -> FakeBatch | web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return http_error_response(HttpError(404, message="batch not found"))
        return batch

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if self.create_error is not None:
            error, self.create_error = self.create_error, None
            return http_error_response(error)
        requests = body.get("requests") if body else None
        if error := _invalid(requests):
            return http_error_response(HttpError(400, message=error))
        batch = FakeBatch(new_id("msgbatch_"), requests, datetime.now(UTC))
        with self._lock:
            self.batches[batch.id] = batch
        return web.json_response(batch.as_json(_origin(request)), headers=request_id_header())

    async def _retrieve(self, request: web.Request) -> web.Response:
        await self._record(request)
        batch = self._found(request)
        if isinstance(batch, web.Response):
            return batch
        with self._lock:
            if batch.status == "canceling" or (batch.status == "in_progress" and not self.hold):
                if batch.status == "in_progress":
                    for each in batch.requests:
                        self._process(batch, each)
                self._end(batch)
        return web.json_response(batch.as_json(_origin(request)), headers=request_id_header())

    async def _list(self, request: web.Request) -> web.Response:
        await self._record(request)
        limit = int(request.query.get("limit", 20))
        after = request.query.get("after_id")
        rows = list(reversed(self.batches.values()))  # newest first, as the API lists them
        if after:
            ids = [b.id for b in rows]
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        page = [b.as_json(_origin(request)) for b in rows[:limit]]
        return web.json_response(
            {
                "data": page,
                "has_more": len(rows) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
            headers=request_id_header(),
        )

    async def _cancel(self, request: web.Request) -> web.Response:
        await self._record(request)
        batch = self._found(request)
        if isinstance(batch, web.Response):
            return batch
        with self._lock:
            if batch.status == "in_progress":
                batch.status = "canceling"
                batch.cancel_initiated_at = datetime.now(UTC)
        return web.json_response(batch.as_json(_origin(request)), headers=request_id_header())

    async def _delete(self, request: web.Request) -> web.Response:
        await self._record(request)
        batch = self._found(request)
        if isinstance(batch, web.Response):
            return batch
        if batch.status != "ended":
            return http_error_response(HttpError(400, message="A batch must end before it is deleted."))
        with self._lock:
            del self.batches[batch.id]
        return web.json_response(
            {"id": batch.id, "type": "message_batch_deleted"}, headers=request_id_header()
        )

    async def _results(self, request: web.Request) -> web.Response:
        await self._record(request)
        batch = self._found(request)
        if isinstance(batch, web.Response):
            return batch
        if batch.status != "ended":
            return http_error_response(HttpError(400, message="Results are available once the batch ends."))
        lines = [
            json.dumps({"custom_id": r["custom_id"], "result": batch.results[r["custom_id"]]})
            for r in reversed(batch.requests)  # in no promised order: the custom_id names each
        ]
        return web.Response(
            body="\n".join(lines) + "\n", content_type="application/binary", headers=request_id_header()
        )


def _invalid(requests: Any) -> str:
    """Why the API refuses the whole batch ("" if it does not)."""
    if not isinstance(requests, list) or not requests:
        return "requests: at least one request is required"
    if len(requests) > MAX_REQUESTS:
        return f"requests: at most {MAX_REQUESTS} requests in a batch"
    seen: set[str] = set()
    for i, each in enumerate(requests):
        if not isinstance(each, dict) or not isinstance(each.get("params"), dict):
            return f"requests.{i}.params: Field required"
        custom_id = each.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            return f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
        if custom_id in seen:
            return f"requests.{i}.custom_id: duplicate custom_id {custom_id}"
        seen.add(custom_id)
        if "stream" in each["params"]:
            return f"requests.{i}.params.stream: streaming is not supported in batches"
    return ""


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def answered(params: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """A batch request's message: what the fake answers it with unscripted (structured.py, or an
    echo), with `usage` as its prompt cache counts it."""
    script = structured_reply(params) or echo(params)
    chunks = split_chunks(script.text)
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": params.get("model"),
        "content": [{"type": "text", "text": script.text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": len(chunks)},
    }
