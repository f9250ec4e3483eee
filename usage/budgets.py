"""Monthly spending limits. A send is refused, before any API call, when a limit is reached.

Race safety: the check runs inside the send's transaction with the budget rows locked
(`select_for_update` on PostgreSQL; SQLite transactions here take the write lock at BEGIN), so two
sends are checked one after the other. A reply's cost is only known when it ends, so replies still
running count at the cost of the subject's most expensive reply this month: near the limit, a new
send waits for the running one, and a limit is overshot by at most about one reply.

Team spending is what conversations started from the team's prompts cost.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from conversations.models import Message

from .models import Budget

WARN_AT = Decimal("0.8")


class BudgetExceeded(Exception):
    """Shown to the user as it is."""


@dataclass(frozen=True)
class BudgetStatus:
    label: str
    limit: Decimal
    spent: Decimal
    resets_at: datetime

    @property
    def fraction(self) -> Decimal:
        return self.spent / self.limit if self.limit else Decimal(1)

    @property
    def warn(self) -> bool:
        return self.fraction >= WARN_AT

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def _replies(budget: Budget, since: datetime) -> QuerySet[Message]:
    scope = (
        Q(conversation__owner_id=budget.user_id)
        if budget.user_id
        else Q(conversation__prompt_version__prompt__team_id=budget.team_id)
    )
    return Message.objects.filter(scope, role=Message.Role.ASSISTANT, created_at__gte=since)


def _label(budget: Budget) -> str:
    return "Your" if budget.user_id else f"The team “{budget.team.name}”’s"


def _budgets(user, team_id: int | None) -> QuerySet[Budget]:
    scope = Q(user=user) | Q(team_id=team_id) if team_id else Q(user=user)
    return Budget.objects.filter(scope).select_related("team")


def statuses(user, team_ids: list[int] = ()) -> list[BudgetStatus]:
    """The user's budget and those of the given teams, with this month's spending."""
    start, end = month_bounds(timezone.now())
    budgets = Budget.objects.filter(Q(user=user) | Q(team_id__in=list(team_ids))).select_related("team")
    return [
        BudgetStatus(
            label=_label(budget),
            limit=budget.monthly_limit,
            spent=_replies(budget, start).aggregate(total=Sum("cost"))["total"] or Decimal(0),
            resets_at=end,
        )
        for budget in budgets
    ]


def check_can_send(*, user, team_id: int | None) -> None:
    """Call inside the transaction that creates the reply. Raises BudgetExceeded."""
    start, end = month_bounds(timezone.now())
    for budget in _budgets(user, team_id).select_for_update(of=("self",)):
        replies = _replies(budget, start)
        figures = replies.aggregate(spent=Sum("cost"), biggest=Max("cost"))
        spent, biggest = figures["spent"] or Decimal(0), figures["biggest"] or Decimal(0)
        limit = budget.monthly_limit
        resets = f"it resets on {end:%Y-%m-%d} at 00:00 UTC"
        if spent >= limit:
            raise BudgetExceeded(
                f"{_label(budget)} monthly limit of ${limit:.2f} is reached (${spent:.2f} spent); {resets}."
            )
        running = replies.filter(status=Message.Status.STREAMING).count()
        if running and spent + running * biggest >= limit:
            raise BudgetExceeded(
                f"{_label(budget)} monthly limit of ${limit:.2f} is nearly reached (${spent:.2f} spent): "
                "wait for the reply that is still running, then send again."
            )
