"""Reads, scoped to the requesting user: who may see and run a prompt's workbench (the teams app's
prompt access: editors and owners run, members view, everyone else sees nothing), its cases and
their files, the Bad responses suggested as cases, and a run's figures."""

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F
from django.utils.crypto import salted_hmac

from conversations.blocks.files import is_link
from conversations.models import Attachment, ContentBlock, Conversation, Message, ReplyFeedback
from conversations.selectors import message_for_user
from teams.models import Membership, SystemPrompt
from teams.selectors import prompt_access

from .models import BlindVote, CaseFile, Result, Run, TestCase


@dataclass(frozen=True)
class Access:
    prompt: SystemPrompt
    can_run: bool  # editors and owners; members only view


def workbench_access(user, prompt_id: int) -> Access | None:
    access = prompt_access(user, prompt_id)
    return Access(*access) if access else None


def cases_of(prompt: SystemPrompt) -> list[TestCase]:
    return list(prompt.test_cases.order_by("pk").prefetch_related("files"))


def case_of(prompt: SystemPrompt, case_id: int) -> TestCase | None:
    return prompt.test_cases.filter(pk=case_id).prefetch_related("files").first()


def case_file(prompt: SystemPrompt, case_id: int, file_id: int) -> CaseFile | None:
    """One of a case's files, if the case is the prompt's."""
    return CaseFile.objects.filter(pk=file_id, case_id=case_id, case__prompt=prompt).first()


def suggested_cases(prompt: SystemPrompt, limit: int = 20) -> list[dict]:
    """Bad responses on the prompt's versions not yet taken as cases: the question the reply
    answered, the comment and the version. Never whose chat, nor a link to it (as the prompt's
    feedback list: selectors.feedback_for_prompt)."""
    taken = TestCase.objects.filter(from_feedback__isnull=False).values("from_feedback")
    rows = list(
        ReplyFeedback.objects.filter(
            rating=ReplyFeedback.Rating.BAD,
            prompt_version__prompt=prompt,
            message__conversation__in=Conversation.objects.visible(),
        )
        .exclude(pk__in=taken)
        .order_by("-updated_at", "-pk")
        .values("pk", "comment", "message__parent_id", version=F("prompt_version__number"))[:limit]
    )
    questions: dict[int, list[str]] = {}
    blocks = ContentBlock.objects.filter(
        message_id__in=[row["message__parent_id"] for row in rows], type=ContentBlock.Type.TEXT
    ).order_by("message_id", "index")
    for message_id, payload in blocks.values_list("message_id", "payload"):
        questions.setdefault(message_id, []).append(str(payload.get("text", "")))
    return [
        {
            "feedback_id": row["pk"],
            "comment": row["comment"],
            "version": row["version"],
            "input": "\n\n".join(questions.get(row["message__parent_id"], [])),
        }
        for row in rows
        if questions.get(row["message__parent_id"])
    ]


def runs_of(prompt: SystemPrompt) -> list[Run]:
    return list(prompt.runs.select_related("version_a", "version_b", "created_by").order_by("-pk"))


def run_of(prompt: SystemPrompt, run_id: int) -> Run | None:
    return prompt.runs.select_related("version_a", "version_b", "prompt").filter(pk=run_id).first()


@dataclass
class Side:
    name: str
    label: str
    done: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    grader_cost: Decimal = Decimal(0)
    scores: list[int] | None = None
    first_token_ms: list[int] | None = None
    wins: int = 0

    def add(self, result: Result) -> None:
        if result.status != Result.Status.PENDING:
            self.done += 1
        self.input_tokens += (
            result.input_tokens + result.cache_read_input_tokens + result.cache_creation_input_tokens
        )
        self.output_tokens += result.output_tokens
        self.cost += result.cost or 0
        self.grader_cost += result.grader_cost or 0
        if result.score is not None:
            self.scores.append(result.score)
        if result.first_token_ms is not None:
            self.first_token_ms.append(result.first_token_ms)

    @property
    def mean_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def median_first_token_ms(self) -> int | None:
        times = sorted(self.first_token_ms or [])
        return times[len(times) // 2] if times else None


def run_table(run: Run) -> dict:
    """The run's rows (one per case: its input, expected, and both sides' results) and each side's
    totals, scores and wins."""
    results = list(run.results.order_by("position", "side"))
    rows: dict[int, dict] = {}
    sides = {
        "a": Side("a", f"A: v{run.version_a.number} · {run.model_a}", scores=[], first_token_ms=[]),
        "b": Side("b", f"B: v{run.version_b.number} · {run.model_b}", scores=[], first_token_ms=[]),
    }
    for result in results:
        row = rows.setdefault(result.position, {"position": result.position, "input": result.input})
        row["expected"], row["files"] = result.expected, result.files
        row[result.side] = result
        sides[result.side].add(result)
    ties = 0
    for row in rows.values():
        a, b = row.get("a"), row.get("b")
        row["pair"] = [result for result in (a, b) if result]
        if a and b and a.score is not None and b.score is not None:
            if a.score == b.score:
                ties += 1
            else:
                sides["a" if a.score > b.score else "b"].wins += 1
    total = len(results)
    done = sum(side.done for side in sides.values())
    return {
        "rows": list(rows.values()),
        "sides": [sides["a"], sides["b"]],
        "ties": ties,
        "total": total,
        "done": done,
        "cost": sum((s.cost + s.grader_cost for s in sides.values()), Decimal(0)),
        "graded": any(side.scores for side in sides.values()),
    }


CSV_SIDE_FIELDS = [
    "status",
    "output",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "first_token_ms",
    "score",
    "score_reason",
    "error",
]


def run_csv(run: Run) -> str:
    """The run as CSV: a line per case (its input, expected output and files' names), both sides'
    output, figures and score."""
    out = io.StringIO()
    writer = csv.writer(out)
    fields = CSV_SIDE_FIELDS
    writer.writerow(
        ["case", "input", "expected", "files", *(f"{side}_{f}" for side in ("a", "b") for f in fields)]
    )
    for row in run_table(run)["rows"]:
        cells = [row["position"], row["input"], row["expected"], ", ".join(f["name"] for f in row["files"])]
        for side in ("a", "b"):
            r = row.get(side)
            cells += (
                [
                    r.status,
                    r.output,
                    r.stop_reason,
                    r.input_tokens,
                    r.output_tokens,
                    "" if r.cost is None else f"{r.cost:.6f}",
                    r.first_token_ms or "",
                    "" if r.score is None else r.score,
                    r.score_reason,
                    r.error,
                ]
                if r
                else [""] * len(fields)
            )
        writer.writerow(cells)
    return out.getvalue()


# --- blind review ----------------------------------------------------------------------------------


def blind_left_side(run: Run, position: int, user) -> str:
    """Which side ("a" or "b") a reviewer sees on the left for a case: random to look at, but fixed
    per run, case and reviewer (a keyed hash), so a reload does not reshuffle."""
    digest = salted_hmac("workbench.blind", f"{run.pk}:{position}:{user.pk}", algorithm="sha256").digest()
    return "a" if digest[0] % 2 == 0 else "b"


BLIND_PICKS = {"left", "right", "tie"}


def blind_pick_of(choice: str, left: str) -> str:
    """A stored vote ("a", "b", "tie") as the reviewer saw it ("left", "right", "tie")."""
    if choice == BlindVote.Choice.TIE:
        return "tie"
    return "left" if choice == left else "right"


def blind_cases(run: Run, user) -> list[dict]:
    """The cases both sides answered, each with its two outputs as left and right in the reviewer's
    order and their vote as they saw it; nothing that says which side is which."""
    votes = dict(run.blind_votes.filter(user=user).values_list("position", "choice"))
    pairs: dict[int, dict[str, Result]] = {}
    for result in run.results.filter(status=Result.Status.SUCCEEDED).order_by("position", "side"):
        pairs.setdefault(result.position, {})[result.side] = result
    cases = []
    for position, pair in pairs.items():
        if len(pair) < 2:
            continue
        left = blind_left_side(run, position, user)
        right = "b" if left == "a" else "a"
        vote = votes.get(position)
        cases.append(
            {
                "position": position,
                "input": pair[left].input,
                "expected": pair[left].expected,
                "left": pair[left].output,
                "right": pair[right].output,
                "vote": blind_pick_of(vote, left) if vote else "",
            }
        )
    return cases


def blind_tally(run: Run) -> dict:
    """The editors' blind votes on the run: how many cases each side won, the ties, the reviewers."""
    counts = {choice: 0 for choice in BlindVote.Choice.values}
    reviewers = set()
    for choice, user_id in run.blind_votes.values_list("choice", "user_id"):
        counts[choice] += 1
        reviewers.add(user_id)
    return {
        "a": counts["a"],
        "b": counts["b"],
        "ties": counts["tie"],
        "votes": sum(counts.values()),
        "reviewers": len(reviewers),
    }


# --- a chat's message as a test case -----------------------------------------------------------------


def prompts_to_add_cases_to(user):
    """The team prompts the user edits (an owner or editor of the team), not a project's
    instructions: what "Add to test set" offers."""
    return (
        SystemPrompt.objects.filter(
            team__memberships__user=user,
            team__memberships__role__in=[Membership.Role.OWNER, Membership.Role.EDITOR],
            project__isnull=True,
        )
        .select_related("team")
        .distinct()
        .order_by("team__name", "name")
    )


@dataclass(frozen=True)
class ChatInput:
    """A user message as a case takes it: its text, and the files attached to it (those attached by
    their link are not copied: the case holds files, not links)."""

    text: str
    attachments: list[Attachment]
    links: int  # files attached by their link, left out


def own_user_message(user, message_id: int) -> ChatInput | None:
    """One of the user's own messages (their conversation, not deleted); None for a reply, anyone
    else's message, or one that is not there."""
    message = message_for_user(user, message_id)
    if message is None or message.role != Message.Role.USER:
        return None
    blocks = list(message.blocks.order_by("index"))
    ids = [b.payload["attachment_id"] for b in blocks if "attachment_id" in b.payload]
    found = {a.pk: a for a in Attachment.objects.filter(owner=user, pk__in=ids)}
    return ChatInput(
        text="\n\n".join(str(b.payload.get("text", "")) for b in blocks if b.type == ContentBlock.Type.TEXT),
        attachments=[found[i] for i in ids if i in found],
        links=sum(1 for b in blocks if is_link(b.payload)),
    )
