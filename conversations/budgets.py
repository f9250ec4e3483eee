"""Monthly spending limits. A send is refused, before any API call, when a limit is reached.

Spending (spending.py: every request, replies and the calls that are not one, such as titles) is
kept as a running monthly total on each budget row, added to in each reply's final write and as
each other call is recorded, so a send reads one row instead of summing requests.

Race safety: the check runs inside the send's transaction with the budget rows locked
(`select_for_update` on PostgreSQL; SQLite transactions here take the write lock at BEGIN), so two
sends are checked one after the other. A reply's cost is only known when it ends, so replies still
running count at the cost of the subject's most expensive reply this month: near the limit, a new
send waits for the running one, and a limit is overshot by at most about one reply.

Team spending is what conversations started from the team's prompts cost, their titles included.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from conversations import spending
from conversations.models import Budget, Message

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


def _spent(budget: Budget, since: datetime) -> spending.Spending:
    spent = spending.spent(since)
    return spent.of_user(budget.user_id) if budget.user_id else spent.of_team(budget.team_id)


def _replies(budget: Budget, since: datetime) -> QuerySet[Message]:
    return _spent(budget, since).replies


def _label(budget: Budget) -> str:
    return "Your" if budget.user_id else f"The team “{budget.team.name}”’s"


def _budgets(user, team_id: int | None) -> QuerySet[Budget]:
    scope = Q(user=user) | Q(team_id=team_id) if team_id else Q(user=user)
    return Budget.objects.filter(scope).select_related("team")


def _month_figures(budget: Budget, start: datetime) -> tuple[Decimal, Decimal]:
    """(spent, biggest single request) this month: the running totals, or a sum when they are from
    another month (or the budget is new)."""
    if budget.month_start == start.date():
        return budget.month_spent, budget.month_biggest
    return spending.cost_figures(_spent(budget, start))


def statuses(user, team_ids: list[int] = ()) -> list[BudgetStatus]:
    """The user's budget and those of the given teams, with this month's spending."""
    start, end = month_bounds(timezone.now())
    budgets = Budget.objects.filter(Q(user=user) | Q(team_id__in=list(team_ids))).select_related("team")
    return [
        BudgetStatus(_label(budget), budget.monthly_limit, _month_figures(budget, start)[0], end)
        for budget in budgets
    ]


def check_can_send(*, user, team_id: int | None) -> None:
    """Call inside the transaction that creates the reply (`user`: a user or its id). Raises
    BudgetExceeded.

    Reads the running monthly totals (one locked row per budget); it sums replies only on the
    first send of a month, or of a new budget, and stores the result as the running totals."""
    start, end = month_bounds(timezone.now())
    for budget in _budgets(user, team_id).select_for_update(of=("self",)):
        spent, biggest = _month_figures(budget, start)
        if budget.month_start != start.date():
            budget.month_start, budget.month_spent, budget.month_biggest = start.date(), spent, biggest
            budget.save(update_fields=["month_start", "month_spent", "month_biggest"])
        limit = budget.monthly_limit
        resets = f"it resets on {end:%Y-%m-%d} at 00:00 UTC"
        if spent >= limit:
            raise BudgetExceeded(
                f"{_label(budget)} monthly limit of ${limit:.2f} is reached (${spent:.2f} spent); {resets}."
            )
        if spent + biggest < limit:
            continue  # even one more reply as costly as the biggest fits
        running = _replies(budget, start).filter(status=Message.Status.STREAMING).count()
        if running and spent + running * biggest >= limit:
            raise BudgetExceeded(
                f"{_label(budget)} monthly limit of ${limit:.2f} is nearly reached (${spent:.2f} spent): "
                "wait for the reply that is still running, then send again."
            )


def spend_record(*, user_id: int, team_id: int | None, cost: Decimal) -> None:
    """Add a finished request's cost to the running totals of this month's budgets (in a reply's
    final write, or as another call is recorded). Budgets whose totals are from another month are
    summed afresh at their next check."""
    start, _ = month_bounds(timezone.now())
    scope = Q(user_id=user_id) | Q(team_id=team_id) if team_id else Q(user_id=user_id)
    Budget.objects.filter(scope, month_start=start.date()).update(
        month_spent=F("month_spent") + cost, month_biggest=Greatest("month_biggest", Value(cost))
    )
