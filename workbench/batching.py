"""A batch run's two Message Batches at the batch rate: the cases' (a request per case and side),
then, with a rubric, the grader's (a request per output that succeeded). Each is created once (its
id stored), polled with backoff (1 s, doubling up to 30 s), cancelled on Cancel run keeping what
finished, and its results read into the run. After a restart the worker polls the batch it stored."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.utils import timezone

from conversations.claude import llm
from conversations.claude.pricing import Usage

from . import outbound, requests, services
from .models import Result, Run
from .outbound import RunFailed

log = logging.getLogger(__name__)

MAX_POLL_SECONDS = 30.0  # a batch still open is never polled less often than this


@dataclass(frozen=True)
class Which:
    """One of a run's batches: the Run fields that hold it, and what a refusal says."""

    id: str
    status: str
    counts: str
    refused: str


CASES = Which("batch_id", "batch_status", "batch_counts", "The batch was refused")
GRADES = Which(
    "grader_batch_id", "grader_batch_status", "grader_batch_counts", "The grader's batch was refused"
)


async def cases(run: Run) -> None:
    """The cases' batch: created (unless stored), polled until it ends, its results recorded."""
    if not run.batch_id:
        batch_requests = await sync_to_async(_case_requests)(run)
        if not batch_requests:
            return
        await _create(run, CASES, batch_requests)
    await _poll(run, CASES)
    await _case_results(run)


async def grades(run: Run) -> None:
    """The grader's batch over the outputs that succeeded, as `cases`."""
    if not run.grader_batch_id:
        to_grade = await sync_to_async(outbound.ungraded)(run)
        if not to_grade:
            return
        batch_requests = [
            requests.batch_request(r.grade_custom_id, outbound.grader_params(run, r)) for r in to_grade
        ]
        await _create(run, GRADES, batch_requests)
    await _poll(run, GRADES)
    await _grade_results(run)


def _case_requests(run: Run) -> list[dict]:
    """Each pending result's request; one whose files are gone is recorded as errored instead."""
    batch_requests = []
    for result in outbound.pending(run):
        try:
            batch_requests.append(requests.batch_request(result.custom_id, outbound.case_params(run, result)))
        except outbound.FileGone as exc:
            services.result_record(result_id=result.pk, status=Result.Status.ERRORED, error=str(exc))
    return batch_requests


async def _create(run: Run, which: Which, batch_requests: list[dict]) -> None:
    try:
        batch = await llm.batch_create(batch_requests)
    except llm.BATCH_ERRORS as exc:
        message, request_id = llm.describe_error(exc)
        where = f" (request {request_id})" if request_id else ""
        raise RunFailed(f"{which.refused}: {message}{where}") from exc
    await _save(run, which, batch, interval=1.0)


async def _poll(run: Run, which: Which) -> None:
    """Until the batch has ended: retrieve it (or cancel it, once asked to) when it is due."""
    while True:
        if run.next_poll_at:
            await asyncio.sleep(max(0.0, (run.next_poll_at - timezone.now()).total_seconds()))
        run = await sync_to_async(outbound.load_run)(run.pk)
        batch_id = getattr(run, which.id)
        try:
            if run.cancel_requested and getattr(run, which.status) == "in_progress":
                batch = await llm.batch_cancel(batch_id)
            else:
                batch = await llm.batch_retrieve(batch_id)
        except llm.BATCH_ERRORS as exc:
            message, _ = llm.describe_error(exc)
            log.warning("polling batch %s failed: %s", batch_id, message)
            await _save(run, which, None, interval=min(run.poll_interval * 2, MAX_POLL_SECONDS))
            continue
        if batch.processing_status == "ended":
            await _save(run, which, batch, interval=run.poll_interval)
            return
        await _save(run, which, batch, interval=min(run.poll_interval * 2, MAX_POLL_SECONDS))


async def _save(run: Run, which: Which, batch, *, interval: float) -> None:
    fields = {"poll_interval": interval, "next_poll_at": timezone.now() + timedelta(seconds=interval)}
    if batch is not None:
        fields |= {
            which.id: batch.id,
            which.status: batch.processing_status,
            which.counts: batch.request_counts.model_dump(),
        }
    await sync_to_async(services.run_update)(run_id=run.pk, **fields)
    for name, value in fields.items():
        setattr(run, name, value)


async def _lines(run: Run, which: Which, kind: str, waiting: list[Result]):
    """Each result line of the ended batch with the waiting result it answers; lines of results
    recorded already (a worker stopped while reading) are passed over."""
    try:
        lines = await llm.batch_results(getattr(run, which.id))
    except llm.BATCH_ERRORS as exc:
        message, _ = llm.describe_error(exc)
        raise RunFailed(f"The batch's results could not be read: {message}") from exc
    by_key = {(r.position, r.side): r for r in waiting}
    for line in lines:
        key = requests.parse_custom_id(line.custom_id, kind)
        result = by_key.pop(key, None) if key else None
        if result is not None:
            yield line.result, result


async def _case_results(run: Run) -> None:
    waiting = await sync_to_async(outbound.pending)(run)
    async for outcome, result in _lines(run, CASES, "case", waiting):
        await sync_to_async(services.result_record)(result_id=result.pk, **_case_outcome(outcome))


async def _grade_results(run: Run) -> None:
    waiting = await sync_to_async(outbound.ungraded)(run)
    async for outcome, result in _lines(run, GRADES, "grade", waiting):
        await sync_to_async(services.result_graded)(result_id=result.pk, **_grade_outcome(outcome))


def _case_outcome(outcome) -> dict:
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


def _grade_outcome(outcome) -> dict:
    """A grader's line as result_graded takes it: a score and its reason, or why there is none."""
    if outcome.type == "errored":
        error = outcome.error.error
        return {"score": None, "reason": f"Not graded: {error.type}: {error.message}", "usage": None}
    if outcome.type != "succeeded":
        why = (
            "the batch expired before this grade ran"
            if outcome.type == "expired"
            else "cancelled before it ran"
        )
        return {"score": None, "reason": f"Not graded: {why}", "usage": None}
    message = outcome.message
    text = "".join(block.text for block in message.content if block.type == "text")
    try:
        score, reason = requests.parse_grade(text)
    except ValueError as exc:
        score, reason = None, f"Not graded: the grader's answer did not fit ({exc})"
    usage = Usage().plus(llm.usage_fields(message.usage))
    return {"score": score, "reason": reason, "usage": usage, "request_id": message.id}
