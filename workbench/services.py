"""Writes: test cases (added, edited, deleted, imported from CSV, taken from a Bad response) and
their files, runs (created, cancelled, leased to a worker, finished) and their results, each
request's usage recorded as an ApiCall so usage and budgets count it like any spending."""

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import attachments as files
from conversations import storage
from conversations.budgets import BudgetExceeded, check_can_send
from conversations.claude import capabilities, catalog
from conversations.claude.pricing import Usage
from conversations.models import ApiCall, Attachment, ReplyFeedback
from conversations.services.replies import api_call_record
from teams.models import SystemPrompt

from .models import BlindVote, CaseFile, Result, Run, TestCase

MAX_CSV_BYTES = 1024 * 1024
MAX_INPUT_CHARS = 20_000
MAX_UPLOAD = max(files.MAX_IMAGE_BYTES, files.MAX_PDF_BYTES)  # larger uploads are refused unread
MAX_CASE_FILES = files.MAX_FILES_PER_MESSAGE  # as many as a chat message takes
MAX_CASE_FILE_MB = 20  # a request is at most 32 MB, and base64 adds a third
# A Message Batch is at most 256 MB: its requests' files (each case's twice, in base64) stay under
# this, leaving room for the prompts and inputs.
MAX_BATCH_FILE_MB = 200
# A live request out when its process stopped is sent once more (the only way to get its answer),
# never a third time.
MAX_SENDS = 2
SENT_TWICE = "Its request was out when the server stopped, twice; it was not sent a third time."


class WorkbenchError(Exception):
    """Refused, with the reason to show."""


def max_cases() -> int:
    return settings.CHAT_WORKBENCH_MAX_CASES


# --- test cases ------------------------------------------------------------------------------------


def _checked(case_input: str, expected: str, tags: str) -> tuple[str, str, str]:
    case_input, expected = case_input.strip(), expected.strip()
    if not case_input:
        raise WorkbenchError("A test case needs an input.")
    if len(case_input) > MAX_INPUT_CHARS or len(expected) > MAX_INPUT_CHARS:
        raise WorkbenchError(f"Inputs and expected outputs are at most {MAX_INPUT_CHARS:,} characters.")
    tags = ", ".join(dict.fromkeys(t.strip() for t in tags.split(",") if t.strip()))
    if len(tags) > 200:
        raise WorkbenchError("Tags are at most 200 characters in all.")
    return case_input, expected, tags


def case_add(
    *,
    prompt: SystemPrompt,
    user,
    case_input: str,
    expected: str = "",
    tags: str = "",
    feedback_id=None,
    new_files: Sequence["NewFile"] = (),
) -> TestCase:
    """A case, with its files (files_checked, files_copied); all or nothing."""
    case_input, expected, tags = _checked(case_input, expected, tags)
    with transaction.atomic():
        if prompt.test_cases.count() >= max_cases():
            raise WorkbenchError(f"A prompt has at most {max_cases()} test cases.")
        case = TestCase.objects.create(
            prompt=prompt,
            input=case_input,
            expected=expected,
            tags=tags,
            created_by=user,
            from_feedback_id=feedback_id,
        )
        _files_store(case, new_files)
        return case


def case_edit(
    *,
    case: TestCase,
    case_input: str,
    expected: str,
    tags: str,
    new_files: Sequence["NewFile"] = (),
    remove_file_ids: Iterable[int] = (),
) -> TestCase:
    """The case's text and tags changed, the files in `remove_file_ids` removed and `new_files`
    added; all or nothing."""
    case.input, case.expected, case.tags = _checked(case_input, expected, tags)
    added = {_digest(f) for f in new_files}
    with transaction.atomic():
        case.save(update_fields=["input", "expected", "tags"])
        # One removed and added again stays: its stored file must not go when the delete commits.
        case.files.filter(pk__in=list(remove_file_ids)).exclude(sha256__in=added).delete()
        _files_store(case, new_files)
    return case


def case_delete(*, case: TestCase) -> None:
    case.delete()


# --- a case's files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewFile:
    """A file to add to a case: its name as given, and its checked bytes."""

    name: str
    processed: files.Processed


def files_checked(uploads: Iterable[tuple[str, bytes]]) -> list[NewFile]:
    """Uploads (name, bytes) checked and re-encoded as a chat's are (attachments.process);
    WorkbenchError naming the first file refused, and why."""
    try:
        return [NewFile(name, files.process(name, data)) for name, data in uploads]
    except files.Refused as exc:
        raise WorkbenchError(str(exc)) from None


def files_copied(attachments: Iterable[Attachment]) -> list[NewFile]:
    """A chat message's files, checked when they were attached: their stored bytes, copied (the
    case keeps its own copy, whatever becomes of the chat)."""
    copied = []
    for a in attachments:
        try:
            data = storage.read(a.storage_key)
        except OSError:
            raise WorkbenchError(f"{a.name} could not be read from storage; attach it again.") from None
        copied.append(NewFile(a.name, files.Processed(a.media_type, data, a.width, a.height, a.pages)))
    return copied


def _digest(new: NewFile) -> str:
    return hashlib.sha256(new.processed.data).hexdigest()


def _files_store(case: TestCase, new_files: Sequence[NewFile]) -> None:
    """Store each file once per case, within the case's caps (checked before anything is stored)."""
    have = dict(case.files.values_list("sha256", "size"))
    to_store = {}
    for new in new_files:
        to_store.setdefault(_digest(new), new)
    to_store = {digest: new for digest, new in to_store.items() if digest not in have}
    if len(have) + len(to_store) > MAX_CASE_FILES:
        raise WorkbenchError(f"A test case has at most {MAX_CASE_FILES} files.")
    total = sum(have.values()) + sum(len(new.processed.data) for new in to_store.values())
    if total > MAX_CASE_FILE_MB * 2**20:
        raise WorkbenchError(f"A test case's files take at most {MAX_CASE_FILE_MB} MB in all.")
    for digest, new in to_store.items():
        processed = new.processed
        key = f"workbench/{case.prompt_id}/{case.pk}/{digest}.{processed.media_type.split('/')[1]}"
        storage.save(key, processed.data)
        CaseFile.objects.create(case=case, **files.stored_fields(new.name, processed, digest, key))


def case_from_feedback(*, prompt: SystemPrompt, user, feedback_id: int, case_input: str) -> TestCase:
    """A Bad response on one of the prompt's versions, taken as a case (its comment as expected)."""
    feedback = ReplyFeedback.objects.filter(
        pk=feedback_id, rating=ReplyFeedback.Rating.BAD, prompt_version__prompt=prompt
    ).first()
    if feedback is None or TestCase.objects.filter(from_feedback=feedback).exists():
        raise WorkbenchError("That suggestion is gone.")
    return case_add(
        prompt=prompt, user=user, case_input=case_input, expected=feedback.comment, feedback_id=feedback.pk
    )


def cases_import(*, prompt: SystemPrompt, user, data: bytes) -> int:
    """Cases from a CSV with an `input` column and optionally `expected` and `tags` (any case, in
    any order). All or nothing; the count added."""
    cases = _csv_cases(data)
    with transaction.atomic():
        room = max_cases() - prompt.test_cases.count()
        if len(cases) > room:
            raise WorkbenchError(
                f"The CSV has {len(cases)} cases; a prompt has at most {max_cases()} "
                f"and this one has room for {max(room, 0)}."
            )
        TestCase.objects.bulk_create(
            TestCase(prompt=prompt, input=i, expected=e, tags=t, created_by=user) for i, e, t in cases
        )
    return len(cases)


def _csv_cases(data: bytes) -> list[tuple[str, str, str]]:
    """(input, expected, tags) of each row with an input; raises WorkbenchError with the reason."""
    if not data.strip():
        raise WorkbenchError("The file is empty.")
    if len(data) > MAX_CSV_BYTES:
        raise WorkbenchError(f"The file is larger than {MAX_CSV_BYTES // 1024} KB.")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
        if "input" not in columns:
            found = ", ".join(c for c in columns if c) or "none"
            raise WorkbenchError(f"The CSV has no input column (its columns: {found}).")
        rows = [
            [row.get(columns.get(key, ""), "") or "" for key in ("input", "expected", "tags")]
            for row in reader
        ]
    except UnicodeDecodeError:
        raise WorkbenchError("The file is not UTF-8 text.") from None
    except csv.Error as exc:
        raise WorkbenchError(f"The file is not a CSV this can read ({exc}).") from None
    cases = []
    for number, row in enumerate(rows, start=2):
        if row[0].strip():
            try:
                cases.append(_checked(*row))
            except WorkbenchError as exc:
                raise WorkbenchError(f"Row {number}: {exc}") from None
    if not cases:
        raise WorkbenchError("The CSV has no rows with an input.")
    return cases


# --- runs ------------------------------------------------------------------------------------------


def run_create(
    *,
    prompt: SystemPrompt,
    user,
    version_a: int,
    model_a: str,
    version_b: int,
    model_b: str,
    batch: bool = False,
    rubric: str = "",
    grader_model: str = "",
) -> Run:
    """A run of every case of the prompt on both sides, its results pending. Raises WorkbenchError."""
    versions = _sides(prompt, (version_a, model_a), (version_b, model_b))
    rubric = rubric.strip()
    grader_model = _grader(grader_model) if rubric else ""
    with transaction.atomic():
        cases = list(prompt.test_cases.order_by("pk").prefetch_related("files"))
        if not cases:
            raise WorkbenchError("Add a test case first.")
        if batch:
            _check_batch_size(cases)
        _check_budget(user, prompt.team_id)
        run = Run.objects.create(
            prompt=prompt,
            created_by=user,
            version_a=versions[version_a],
            model_a=model_a,
            version_b=versions[version_b],
            model_b=model_b,
            mode=Run.Mode.BATCH if batch else Run.Mode.LIVE,
            max_tokens=settings.CHAT_WORKBENCH_MAX_TOKENS,
            rubric=rubric,
            grader_model=grader_model,
        )
        _results_create(run, cases)
    return run


def _results_create(run: Run, cases: list[TestCase]) -> None:
    """Each case's result on each side, pending, with a copy of the case: a run is a record."""
    Result.objects.bulk_create(
        Result(
            run=run,
            position=n,
            side=side,
            case=case,
            input=case.input,
            expected=case.expected,
            files=[{"id": f.pk, "name": f.name} for f in case.files.all()],
        )
        for n, case in enumerate(cases, start=1)
        for side in ("a", "b")
    )


def _check_batch_size(cases: list[TestCase]) -> None:
    """A batch carries each case's files twice (a request per side), in base64."""
    size = sum(f.size for case in cases for f in case.files.all()) * 2 * 4 / 3
    if size > MAX_BATCH_FILE_MB * 2**20:
        raise WorkbenchError(
            f"The cases' files come to {size / 2**20:.0f} MB in a batch's requests; a batch carries at "
            f"most {MAX_BATCH_FILE_MB} MB of files. Run it live, or with fewer files."
        )


def _sides(prompt: SystemPrompt, a: tuple[int, str], b: tuple[int, str]) -> dict:
    """The two versions by id, once both sides are checked: the prompt's, on available models,
    and not the same."""
    versions = {v.pk: v for v in prompt.versions.filter(pk__in=[a[0], b[0]])}
    if a[0] not in versions or b[0] not in versions:
        raise WorkbenchError("Choose two versions of this prompt.")
    for model in (a[1], b[1]):
        if not catalog.is_available(model):
            raise WorkbenchError(f"The model {model} is not available.")
    if a == b:
        raise WorkbenchError("Version A and Version B are the same: choose two versions, or two models.")
    return versions


def _check_budget(user, team_id: int | None) -> None:
    """A run spends like chats do: refused when a budget that would pay for it is spent."""
    try:
        check_can_send(user=user, team_id=team_id)
    except BudgetExceeded as exc:
        raise WorkbenchError(str(exc)) from None


def _grader(model: str) -> str:
    if not catalog.is_available(model):
        raise WorkbenchError("Choose a grader model for the rubric.")
    if not capabilities.capabilities(model).structured_outputs:
        raise WorkbenchError(f"{model} has no structured outputs: it cannot grade by a rubric.")
    return model


def run_cancel(*, run: Run) -> bool:
    """Ask the worker to stop the run; False when it had already ended."""
    return bool(Run.objects.filter(pk=run.pk, status__in=Run.OPEN).update(cancel_requested=True))


def run_claim(*, run_id: int, owner: str, seconds: float) -> bool:
    """Take the run's lease unless another worker holds a live one: one conditional UPDATE, so two
    workers never both work on (or poll the batch of) one run."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner)
    return bool(
        Run.objects.filter(free, pk=run_id, status__in=Run.OPEN).update(
            lease_owner=owner, lease_until=now + timedelta(seconds=seconds)
        )
    )


def run_release(*, run_id: int, owner: str) -> None:
    Run.objects.filter(pk=run_id, lease_owner=owner).update(lease_owner="", lease_until=None)


def run_update(*, run_id: int, **fields) -> None:
    Run.objects.filter(pk=run_id).update(**fields)


def run_finish(*, run_id: int, status: str, error: str = "") -> None:
    """The run's end. Whatever had not run by then is cancelled (a cancel, or a failure)."""
    with transaction.atomic():
        Result.objects.filter(run_id=run_id, status=Result.Status.PENDING).update(
            status=Result.Status.CANCELED
        )
        Run.objects.filter(pk=run_id).update(status=status, error=error, finished_at=timezone.now())


def _paid(result: Result, *, kind, model: str, usage: Usage, request_id: str, batch: bool) -> Decimal | None:
    run = result.run
    call = api_call_record(
        kind=kind,
        model=model,
        usage=usage,
        user_id=run.created_by_id,
        team_id=run.prompt.team_id,
        request_id=request_id,
        batch=batch,
    )
    return call.cost


def result_record(
    *,
    result_id: int,
    status: str,
    output: str = "",
    stop_reason: str = "",
    error: str = "",
    usage: Usage | None = None,
    request_id: str = "",
    first_token_ms: int | None = None,
) -> None:
    """One case's outcome on one side, and what it cost (at the batch rate in a batch run)."""
    with transaction.atomic():
        result = Result.objects.select_related("run__prompt").get(pk=result_id)
        cost = None
        if usage is not None:
            cost = _paid(
                result,
                kind=ApiCall.Kind.WORKBENCH,
                model=result.run.side(result.side)[1],
                usage=usage,
                request_id=request_id,
                batch=result.run.mode == Run.Mode.BATCH,
            )
        # Only a pending result: a request sent again after a restart is paid for, not stored twice.
        Result.objects.filter(pk=result_id, status=Result.Status.PENDING).update(
            status=status,
            output=output,
            stop_reason=stop_reason,
            error=error,
            request_id=request_id,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cache_read_input_tokens=usage.cache_read_input_tokens if usage else 0,
            cache_creation_input_tokens=usage.cache_creation_input_tokens if usage else 0,
            cost=cost,
            first_token_ms=first_token_ms,
        )


def result_sending(*, result_id: int) -> bool:
    """Count a live request going out. False, the result errored with the reason, when it went out
    twice already: each time its process stopped before the answer was stored."""
    pending = Result.objects.filter(pk=result_id, status=Result.Status.PENDING)
    if pending.filter(attempts__lt=MAX_SENDS).update(attempts=F("attempts") + 1):
        return True
    pending.update(status=Result.Status.ERRORED, error=SENT_TWICE)
    return False


def result_grading(*, result_id: int) -> bool:
    """Count a live grader's request going out; False, the result not graded and saying why, as
    result_sending."""
    ungraded = Result.objects.filter(pk=result_id, score__isnull=True, score_reason="")
    if ungraded.filter(grade_attempts__lt=MAX_SENDS).update(grade_attempts=F("grade_attempts") + 1):
        return True
    ungraded.update(score_reason=f"Not graded: {SENT_TWICE[:1].lower()}{SENT_TWICE[1:]}")
    return False


def result_graded(
    *, result_id: int, score: int | None, reason: str, usage: Usage | None, request_id: str = ""
) -> None:
    """A grader's score (None: the grader failed, `reason` says why) and what grading cost (at the
    batch rate when it was in the grader's batch: a batch run's grades are)."""
    with transaction.atomic():
        result = Result.objects.select_related("run__prompt").get(pk=result_id)
        cost = None
        if usage is not None:
            cost = _paid(
                result,
                kind=ApiCall.Kind.GRADER,
                model=result.run.grader_model,
                usage=usage,
                request_id=request_id,
                batch=result.run.mode == Run.Mode.BATCH,
            )
        Result.objects.filter(pk=result_id, score__isnull=True, score_reason="").update(
            score=score, score_reason=reason[:300], grader_cost=cost
        )


# --- blind review ----------------------------------------------------------------------------------


def blind_vote(*, run: Run, user, position: int, pick: str) -> BlindVote:
    """An editor's pick on a finished run's case as they saw it ("left", "right", "tie"), stored as
    the side it was; voting again on the case changes the vote."""
    from .selectors import BLIND_PICKS, blind_left_side

    if run.is_open:
        raise WorkbenchError("The blind review opens once the run has finished.")
    if pick not in BLIND_PICKS:
        raise WorkbenchError("Pick Left, Right or Tie.")
    if not run.results.filter(position=position, status=Result.Status.SUCCEEDED).count() == 2:
        raise WorkbenchError("That case has no two outputs to compare.")
    left = blind_left_side(run, position, user)
    choice = {"left": left, "right": "b" if left == "a" else "a", "tie": BlindVote.Choice.TIE}[pick]
    vote, _ = BlindVote.objects.update_or_create(
        run=run, position=position, user=user, defaults={"choice": choice}
    )
    return vote
