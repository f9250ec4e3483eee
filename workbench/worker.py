"""Works runs in the background, in the process's event loop, never in a request: a live run's
streamed requests then its grades, or a batch run's two Message Batches (batching.py). A run is
worked by the one worker holding its lease (services.run_claim), renewed while it works; a run
whose lease lapsed (its process stopped) is taken up by the next sweep, here or in another process,
and goes on from what is stored: the results still pending or ungraded, the batch ids and when to
poll. A live request counts its sends (services.result_sending): one that was out when its process
stopped is sent once more, never a third time; a stored result is never sent again.
"""

import asyncio
import logging
import os
import socket
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from conversations.claude import llm
from conversations.claude.pricing import Usage
from conversations.live import runtime

from . import batching, outbound, requests, services
from .models import Result, Run
from .outbound import RunFailed

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
LEASE_SECONDS = 60.0
SWEEP_SECONDS = 10.0
MAX_POLL_SECONDS = batching.MAX_POLL_SECONDS
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
        await _phases(run_id)
    except RunFailed as exc:
        await sync_to_async(services.run_finish)(run_id=run_id, status=Run.Status.FAILED, error=str(exc))
    except Exception:
        log.exception("workbench run %s failed", run_id)
        await sync_to_async(services.run_finish)(
            run_id=run_id, status=Run.Status.FAILED, error="The run failed on the server (see its log)."
        )
    finally:
        renewing.cancel()
        await sync_to_async(services.run_release)(run_id=run_id, owner=WORKER)


async def _phases(run_id: int) -> None:
    """The cases (unless a restart finds the run grading already), the grades, the end."""
    run = await _load(run_id)
    if run.status == Run.Status.RUNNING:
        await (batching.cases(run) if run.mode == Run.Mode.BATCH else _live(run))
        run = await _load(run_id)
    if run.is_open and run.rubric and not run.cancel_requested:
        await sync_to_async(services.run_update)(run_id=run_id, status=Run.Status.GRADING)
        await (batching.grades(run) if run.mode == Run.Mode.BATCH else _grade(run))
    run = await _load(run_id)
    if run.is_open:
        status = Run.Status.CANCELLED if run.cancel_requested else Run.Status.COMPLETE
        await sync_to_async(services.run_finish)(run_id=run_id, status=status)


async def _renew(run_id: int) -> None:
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        await sync_to_async(services.run_claim)(run_id=run_id, owner=WORKER, seconds=LEASE_SECONDS)


async def _load(run_id: int) -> Run:
    return await sync_to_async(outbound.load_run)(run_id)


# --- live: streamed requests, a few at a time ---------------------------------------------------------


async def _live(run: Run) -> None:
    pending = await sync_to_async(outbound.pending)(run)
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
    try:
        request = await sync_to_async(outbound.case_params)(run, result)
    except outbound.FileGone as exc:
        outcome = {"status": Result.Status.ERRORED, "error": str(exc)}
    else:
        if not await sync_to_async(services.result_sending)(result_id=result.pk):
            return  # out twice already, each time its process stopped: recorded as errored
        outcome = await _streamed(request)
    await sync_to_async(services.result_record)(result_id=result.pk, **outcome)


async def _streamed(request: dict) -> dict:
    """One streamed request's answer, as services.result_record takes it."""
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
        return {
            "status": Result.Status.ERRORED,
            "output": "".join(parts),
            "error": message,
            "usage": Usage().plus(counts) if counts else None,
            "request_id": error_id or request_id,
            "first_token_ms": first_token_ms,
        }
    return {
        "status": Result.Status.SUCCEEDED,
        "output": "".join(parts),
        "stop_reason": stop_reason,
        "usage": Usage().plus(counts),
        "request_id": request_id,
        "first_token_ms": first_token_ms,
    }


# --- grading: one structured-output request per output -----------------------------------------------


async def _grade(run: Run) -> None:
    to_grade = await sync_to_async(outbound.ungraded)(run)
    gate = asyncio.Semaphore(GRADER_CONCURRENCY)

    async def one(result: Result) -> None:
        async with gate:
            if await sync_to_async(services.result_grading)(result_id=result.pk):
                await _grade_one(run, result)

    await asyncio.gather(*(one(result) for result in to_grade))


async def _grade_one(run: Run, result: Result) -> None:
    try:
        answer = await llm.complete_text(outbound.grader_params(run, result))
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
