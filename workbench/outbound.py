"""What a run's worker reads before it sends: the run as stored, its results still to send or to
grade, and each one's request. A case's files are read from storage and go as a chat sends its
attachments (reply_request.api_block), inline: base64, a text file as text. Live and batch requests
are the same then, and nothing is left in the Files API to delete."""

from conversations.reply.reply_request import api_block, opaque_user_id

from . import requests
from .models import CaseFile, Result, Run


class RunFailed(Exception):
    """The whole run failed: the message to show."""


class FileGone(Exception):
    """A file the case had when the run was made is gone (removed, or its case deleted): the
    request is not sent without it. The message to show on the result."""


def load_run(run_id: int) -> Run:
    return Run.objects.select_related("version_a", "version_b", "prompt").get(pk=run_id)


def pending(run: Run) -> list[Result]:
    return list(run.results.filter(status=Result.Status.PENDING).order_by("position", "side"))


def ungraded(run: Run) -> list[Result]:
    return list(
        run.results.filter(status=Result.Status.SUCCEEDED, score__isnull=True, score_reason="").order_by(
            "position", "side"
        )
    )


def case_params(run: Run, result: Result) -> dict:
    """One case's request on one side, its files read from storage. Raises FileGone."""
    version, model = run.side(result.side)
    return requests.case_request(
        model=model,
        max_tokens=run.max_tokens,
        prompt_text=version.text,
        cache_ttl=version.cache_ttl,
        case_input=result.input,
        user_id=opaque_user_id(run.created_by_id),
        file_blocks=_file_blocks(result),
    )


def _file_blocks(result: Result) -> list[dict]:
    ids = [file["id"] for file in result.files]
    if not ids:
        return []
    stored = {f.pk: f for f in CaseFile.objects.filter(pk__in=ids, case_id=result.case_id)}
    gone = [file["name"] for file in result.files if file["id"] not in stored]
    if not gone:
        try:
            return [
                api_block({"type": "image" if stored[i].is_image else "document", "attachment_id": i}, stored)
                for i in ids
            ]
        except OSError:  # its bytes are gone from storage
            gone = [file["name"] for file in result.files]
    raise FileGone(f"Not sent: the case no longer has {', '.join(gone)} (removed after the run began).")


def grader_params(run: Run, result: Result) -> dict:
    return requests.grader_request(
        model=run.grader_model,
        rubric=run.rubric,
        case_input=result.input,
        expected=result.expected,
        output=result.output,
        file_names=[file["name"] for file in result.files],
    )
