"""What was spent on the Messages API: the one definition the usage pages and the budgets both sum.

Every request the app makes is a row in one of two tables with the same usage and cost columns
(`models.RequestUsage`):
- a reply: an assistant Message made here (`Message.objects.spending()`). A copy (imported, or
  continued from a share) is left out: its tokens were spent before, and are counted there.
- any other request: an `ApiCall`, overhead such as a conversation's generated title (titles.py);
  graders and batches are recorded the same way. It counts for the user and the team that paid
  (`services.api_call_record`), and is shown as overhead of its conversation when it has one.

Why a table of its own rather than more Message rows: a call is no turn of the conversation (no
blocks, no place in the tree, no status) and may belong to no conversation at all.

Sums read both tables, one grouped query each, and merge the rows by group in Python, so the number
of queries does not grow with the data, and the rows with the number of groups only. In each row,
`cost`, the tokens and the hit rate cover both; `replies` counts the replies, `overhead_calls` and
`overhead_cost` the calls.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from conversations.claude.pricing import hit_rate
from conversations.models import ApiCall, Message

# Sums, by the names the usage pages show; the two tables have the same columns.
TOKENS = {
    "input": "input_tokens",
    "cache_write": "cache_creation_input_tokens",
    "cache_read": "cache_read_input_tokens",
    "output": "output_tokens",
}
ADDED = [*TOKENS, "web_searches"]


@dataclass(frozen=True)
class Spending:
    replies: QuerySet[Message]
    calls: QuerySet[ApiCall]

    def of_user(self, user_id: int) -> "Spending":
        """What the user's budget pays: their conversations' replies, and the calls they paid."""
        replies = self.replies.filter(conversation__owner_id=user_id)
        return Spending(replies, self.calls.filter(user_id=user_id))

    def of_team(self, team_id: int) -> "Spending":
        """What the team's budget pays: replies in conversations on its prompts, and the calls it paid."""
        return Spending(
            self.replies.filter(conversation__prompt_version__prompt__team_id=team_id),
            self.calls.filter(team_id=team_id),
        )

    def of_conversation(self, conversation_id: int) -> "Spending":
        """Its replies, and its overhead."""
        return Spending(
            self.replies.filter(conversation_id=conversation_id),
            self.calls.filter(conversation_id=conversation_id),
        )

    def of_project(self, project_id: int) -> "Spending":
        """In conversations started in this project (projects/), everyone's."""
        scope = Q(conversation__project_id=project_id)
        return Spending(self.replies.filter(scope), self.calls.filter(scope))

    def of_prompt(self, prompt_id: int) -> "Spending":
        """In conversations on this prompt (any version)."""
        scope = Q(conversation__prompt_version__prompt_id=prompt_id)
        return Spending(self.replies.filter(scope), self.calls.filter(scope))


def spent(start: datetime | None = None, end: datetime | None = None) -> Spending:
    """Everything spent from `start` until before `end` (either open). A plain datetime range on
    `created_at`, so an index can serve it."""
    span = Q(created_at__gte=start) if start else Q()
    if end:
        span &= Q(created_at__lt=end)
    return Spending(Message.objects.spending().filter(span), ApiCall.objects.filter(span))


def usage_sums() -> dict:
    sums = {name: Coalesce(Sum(field), 0) for name, field in TOKENS.items()}
    sums["cost"] = Sum("cost")
    sums["saved"] = Sum("cache_savings")
    sums["count"] = Count("id")
    sums["web_searches"] = Coalesce(Sum("web_search_requests"), 0)  # their fee is in `cost`
    return sums


def totals(spending: Spending) -> dict:
    """Token, cost and savings sums, and the cache hit rate, over all of it (two queries)."""
    return _combined(spending.replies.aggregate(**usage_sums()), spending.calls.aggregate(**usage_sums()), {})


def grouped(spending: Spending, labels: dict, call_labels: dict | None = None) -> list[dict]:
    """Sums per group, a reply's and a call's of the same group in one row; in no set order.
    `labels` name the groups by expressions over a reply; `call_labels` by the same names over a
    call, where the path differs (a call names who paid itself)."""
    replies = spending.replies.annotate(**labels).values(*labels).annotate(**usage_sums())
    calls = spending.calls.annotate(**(call_labels or labels)).values(*labels).annotate(**usage_sums())
    return merged(replies.order_by(), calls.order_by(), labels)


def merged(reply_rows: Iterable[dict], call_rows: Iterable[dict], labels: dict) -> list[dict]:
    """Rows of sums (`usage_sums`, grouped by `labels`) from both tables, a group's in one row."""
    rows: dict[tuple, list] = {}
    for side, sums in ((0, reply_rows), (1, call_rows)):
        for row in sums:
            rows.setdefault(tuple(row[name] for name in labels), [None, None])[side] = row
    return [_combined(replies, calls, labels) for replies, calls in rows.values()]


def cost_figures(spending: Spending) -> tuple[Decimal, Decimal]:
    """(what it all cost, the cost of the costliest single request) (two queries)."""
    figures = [
        queryset.aggregate(total=Sum("cost"), biggest=Max("cost"))
        for queryset in (spending.replies, spending.calls)
    ]
    total = sum((f["total"] or Decimal(0) for f in figures), Decimal(0))
    return total, max(f["biggest"] or Decimal(0) for f in figures)


def _combined(replies: dict | None, calls: dict | None, labels: dict) -> dict:
    row = {name: (replies or calls)[name] for name in labels}
    for name in ADDED:
        row[name] = (replies[name] if replies else 0) + (calls[name] if calls else 0)
    for name in ("cost", "saved"):
        row[name] = _plus(replies and replies[name], calls and calls[name])
    row["replies"] = replies["count"] if replies else 0
    row["overhead_calls"] = calls["count"] if calls else 0
    row["overhead_cost"] = calls["cost"] if calls else None
    row["hit_rate"] = hit_rate(
        input_tokens=row["input"],
        cache_creation_input_tokens=row["cache_write"],
        cache_read_input_tokens=row["cache_read"],
    )
    return row


def _plus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """A sum of money where None is "no priced row": None only when both are."""
    return None if a is None and b is None else (a or Decimal(0)) + (b or Decimal(0))
