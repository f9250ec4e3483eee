"""Works runs in the background, in the process's event loop, never in a request: a live run's
streamed requests, a batch run's Message Batch (created, polled with backoff, its results read),
then grading. A run is worked by the one worker holding its lease (services.run_claim), renewed
while it works; a run whose lease lapsed (its process stopped) is taken up by the next sweep, here or
in another process, and goes on from what is stored: pending results, the batch id and when to poll.
"""

import asyncio
import logging
import os
import socket
import time
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from conversations.claude import llm
from conversations.claude.pricing import Usage
from conversations.live import runtime
from conversations.reply.reply_request import opaque_user_id

from . import requests, services
from .models import Result, Run

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
LEASE_SECONDS = 60.0
SWEEP_SECONDS = 10.0
MAX_POLL_SECONDS = 30.0  # a batch still open is never polled less often than this
GRADER_CONCURRENCY = 4


def start(run_id: int) -> None:
    """Work the run in this process's loop (a view calls this after creating it)."""
    ensure_sweeper()
    runtime.current().ensure(f"workbench run {run_id}", lambda: work(run_id))


def ensure_sweeper() -> None:
    """Once per process (per loop): take up open runs nobody works on (after a restart)."""
    runtime.current().ensure("workbench sweep", _sweep_forever)


async def _sweep_forever() -> None:
    while True:
        try:
            now = timezone.now()
            lapsed = await sync_to_async(list)(
                Run.objects.filter(status__in=Run.OPEN)
                .exclude(lease_until__gt=now)
                .values_list("pk", flat=True)
            )
            for run_id in lapsed:
                runtime.current().ensure(f"workbench run {run_id}", lambda run_id=run_id: work(run_id))
        except Exception:
            log.exception("workbench sweep failed")
        await asyncio.sleep(SWEEP_SECONDS)


async def work(run_id: int) -> None:
    if not await sync_to_async(services.run_claim)(run_id=run_id, owner=WORKER, seconds=LEASE_SECONDS):
        return  # another worker has it
    renewing = runtime.detached(_renew(run_id))
    try:
        run = await _load(run_id)
        if run.mode == Run.Mode.BATCH:
            await _batch(run)
        else:
            await _live(run)
        run = await _load(run_id)
        if run.is_open and run.rubric and not run.cancel_requested:
            await sync_to_async(services.run_update)(run_id=run_id, status=Run.Status.GRADING)
            await _grade(run)
        run = await _load(run_id)
        if run.is_open:
            status = Run.Status.CANCELLED if run.cancel_requested else Run.Status.COMPLETE
            await sync_to_async(services.run_finish)(run_id=run_id, status=status)
    except _Failed as exc:
        await sync_to_async(services.run_finish)(run_id=run_id, status=Run.Status.FAILED, error=str(exc))
    except Exception:
        log.exception("workbench run %s failed", run_id)
        await sync_to_async(services.run_finish)(
            run_id=run_id, status=Run.Status.FAILED, error="The run failed on the server (see its log)."
        )
    finally:
        renewing.cancel()
        await sync_to_async(services.run_release)(run_id=run_id, owner=WORKER)


class _Failed(Exception):
    """The whole run failed: the message to show."""


async def _renew(run_id: int) -> None:
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        await sync_to_async(services.run_claim)(run_id=run_id, owner=WORKER, seconds=LEASE_SECONDS)


async def _load(run_id: int) -> Run:
    return await sync_to_async(Run.objects.select_related("version_a", "version_b", "prompt").get)(pk=run_id)


def _pending(run: Run) -> list[Result]:
    return list(run.results.filter(status=Result.Status.PENDING).order_by("position", "side"))


def _params(run: Run, result: Result) -> dict:
    version, model = run.side(result.side)
    return requests.case_request(
        model=model,
        max_tokens=run.max_tokens,
        prompt_text=version.text,
        cache_ttl=version.cache_ttl,
        case_input=result.input,
        user_id=opaque_user_id(run.created_by_id),
    )


# --- live: streamed requests, a few at a time ---------------------------------------------------------


async def _live(run: Run) -> None:
    pending = await sync_to_async(_pending)(run)
    gate = asyncio.Semaphore(settings.CHAT_WORKBENCH_CONCURRENCY)
    cancelled = asyncio.Event()
    watching = runtime.detached(_watch_cancel(run.pk, cancelled))

    async def one(result: Result) -> None:
        async with gate:
            if not cancelled.is_set():
                await _live_case(run, result)

    try:
        await asyncio.gather(*(one(result) for result in pending))
    finally:
        watching.cancel()


async def _watch_cancel(run_id: int, cancelled: asyncio.Event) -> None:
    """Cancel sends no more requests; those already out finish and are counted."""
    while not cancelled.is_set():
        await asyncio.sleep(0.5)
        if await sync_to_async(Run.objects.filter(pk=run_id, cancel_requested=True).exists)():
            cancelled.set()


async def _live_case(run: Run, result: Result) -> None:
    request = _params(run, result)
    started = time.perf_counter()
    first_token_ms, parts, stop_reason, counts, request_id = None, [], "", {}, ""
    try:
        stream, request_id = await llm.open_stream(request)
        async for event in stream:
            if event.type == "message_start":
                counts.update(llm.usage_fields(event.message.usage))
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                if first_token_ms is None:
                    first_token_ms = round((time.perf_counter() - started) * 1000)
                parts.append(event.delta.text)
            elif event.type == "message_delta":
                counts.update(llm.usage_fields(event.usage))
                stop_reason = event.delta.stop_reason or ""
    except llm.STREAM_ERRORS as exc:
        message, error_id = llm.describe_error(exc)
        await sync_to_async(services.result_record)(
            result_id=result.pk,
            status=Result.Status.ERRORED,
            output="".join(parts),
            error=message,
            usage=Usage().plus(counts) if counts else None,
            request_id=error_id or request_id,
            first_token_ms=first_token_ms,
        )
        return
    await sync_to_async(services.result_record)(
        result_id=result.pk,
        status=Result.Status.SUCCEEDED,
        output="".join(parts),
        stop_reason=stop_reason,
        usage=Usage().plus(counts),
        request_id=request_id,
        first_token_ms=first_token_ms,
    )


# --- batch: one Message Batch, polled with backoff -----------------------------------------------------


async def _batch(run: Run) -> None:
    if not run.batch_id:
        pending = await sync_to_async(_pending)(run)
        batch_requests = [requests.batch_request(r.custom_id, _params(run, r)) for r in pending]
        try:
            batch = await llm.batch_create(batch_requests)
        except llm.BATCH_ERRORS as exc:
            message, request_id = llm.describe_error(exc)
            where = f" (request {request_id})" if request_id else ""
            raise _Failed(f"The batch was refused: {message}{where}") from exc
        await _save_batch(run, batch, interval=1.0)
        run = await _load(run.pk)
    while True:
        if run.next_poll_at:
            await asyncio.sleep(max(0.0, (run.next_poll_at - timezone.now()).total_seconds()))
        run = await _load(run.pk)
        try:
            if run.cancel_requested and run.batch_status == "in_progress":
                batch = await llm.batch_cancel(run.batch_id)
            else:
                batch = await llm.batch_retrieve(run.batch_id)
        except llm.BATCH_ERRORS as exc:
            message, _ = llm.describe_error(exc)
            log.warning("polling batch %s failed: %s", run.batch_id, message)
            await _save_batch(run, None, interval=min(run.poll_interval * 2, MAX_POLL_SECONDS))
            continue
        if batch.processing_status == "ended":
            await _save_batch(run, batch, interval=run.poll_interval)
            await _batch_results(run)
            return
        await _save_batch(run, batch, interval=min(run.poll_interval * 2, MAX_POLL_SECONDS))


async def _save_batch(run: Run, batch, *, interval: float) -> None:
    fields = {"poll_interval": interval, "next_poll_at": timezone.now() + timedelta(seconds=interval)}
    if batch is not None:
        fields |= {
            "batch_id": batch.id,
            "batch_status": batch.processing_status,
            "batch_counts": batch.request_counts.model_dump(),
        }
    await sync_to_async(services.run_update)(run_id=run.pk, **fields)
    for name, value in fields.items():
        setattr(run, name, value)


async def _batch_results(run: Run) -> None:
    try:
        lines = await llm.batch_results(run.batch_id)
    except llm.BATCH_ERRORS as exc:
        message, _ = llm.describe_error(exc)
        raise _Failed(f"The batch's results could not be read: {message}") from exc
    pending = {(r.position, r.side): r for r in await sync_to_async(_pending)(run)}
    for line in lines:
        key = requests.parse_custom_id(line.custom_id)
        result = pending.pop(key, None) if key else None
        if result is None:
            continue  # recorded already (a worker stopped while reading), or not ours
        await sync_to_async(services.result_record)(result_id=result.pk, **_batch_outcome(line.result))


def _batch_outcome(outcome) -> dict:
    if outcome.type == "succeeded":
        message = outcome.message
        return {
            "status": Result.Status.SUCCEEDED,
            "output": "".join(block.text for block in message.content if block.type == "text"),
            "stop_reason": message.stop_reason or "",
            "usage": Usage().plus(llm.usage_fields(message.usage)),
            "request_id": message.id,
        }
    if outcome.type == "errored":
        error = outcome.error.error
        return {
            "status": Result.Status.ERRORED,
            "error": f"{error.type}: {error.message}",
            "request_id": outcome.error.request_id or "",
        }
    if outcome.type == "expired":
        return {"status": Result.Status.EXPIRED, "error": "The batch expired before this request ran."}
    return {"status": Result.Status.CANCELED, "error": "Cancelled before it ran."}


# --- grading: one structured-output request per output -----------------------------------------------


async def _grade(run: Run) -> None:
    to_grade = await sync_to_async(list)(
        run.results.filter(status=Result.Status.SUCCEEDED, score__isnull=True, score_reason="")
    )
    gate = asyncio.Semaphore(GRADER_CONCURRENCY)

    async def one(result: Result) -> None:
        async with gate:
            await _grade_one(run, result)

    await asyncio.gather(*(one(result) for result in to_grade))


async def _grade_one(run: Run, result: Result) -> None:
    request = requests.grader_request(
        model=run.grader_model,
        rubric=run.rubric,
        case_input=result.input,
        expected=result.expected,
        output=result.output,
    )
    try:
        answer = await llm.complete_text(request)
    except llm.STREAM_ERRORS as exc:
        message, _ = llm.describe_error(exc)
        await sync_to_async(services.result_graded)(
            result_id=result.pk, score=None, reason=f"Not graded: {message}", usage=None
        )
        return
    try:
        score, reason = requests.parse_grade(answer.text)
    except ValueError as exc:
        score, reason = None, f"Not graded: the grader's answer did not fit ({exc})"
    await sync_to_async(services.result_graded)(
        result_id=result.pk, score=score, reason=reason, usage=answer.usage, request_id=answer.request_id
    )
