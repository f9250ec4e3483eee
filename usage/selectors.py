"""Usage aggregates over what was spent (conversations.spending: replies, and the calls that are not
one, such as titles), computed in the database. The number of queries does not grow with the data."""

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate

from conversations.spending import Spending, grouped, merged, spent, usage_sums
from teams.models import SystemPrompt


def spent_between(since: date, until: date) -> Spending:
    """What was spent on those UTC days."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    return spent(start, datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC))


def per_day(spending: Spending) -> list[dict]:
    return sorted(grouped(spending, {"day": TruncDate("created_at")}), key=lambda row: row["day"])


def breakdown(spending: Spending, labels: dict, call_labels: dict | None = None) -> list[dict]:
    """Rows per group, the costliest first. Two queries."""
    return _costliest_first(grouped(spending, labels, call_labels))


def _costliest_first(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: (row["cost"] is None, -(row["cost"] or 0)))  # unpriced last


def by_user(spending: Spending) -> list[dict]:
    """Attributed to the person who paid: a conversation's owner, a call's user."""
    return breakdown(spending, {"label": F("conversation__owner__username")}, {"label": F("user__username")})


def by_team(spending: Spending) -> list[dict]:
    """Attributed by the team whose prompt the conversation uses (a call names the team that paid);
    no team prompt: no team."""
    return breakdown(
        spending, {"label": F("conversation__prompt_version__prompt__team__name")}, {"label": F("team__name")}
    )


def by_project(spending: Spending) -> list[dict]:
    """Attributed by the project the conversation was started in (its title call too), named with
    its team (a personal project: none); no project: no label. Grouped by the project's id, so two
    teams' projects of the same name stay two rows."""
    return breakdown(
        spending,
        {
            "project_pk": F("conversation__project_id"),
            "label": F("conversation__project__name"),
            "project_team": F("conversation__project__team__name"),
        },
    )


def by_model(spending: Spending) -> list[dict]:
    return breakdown(spending, {"label": F("model")})


def by_prompt_version(spending: Spending) -> list[dict]:
    return breakdown(
        spending,
        {
            "label": F("conversation__prompt_version__prompt__name"),
            "version": F("conversation__prompt_version__number"),
        },
    )


def most_expensive_conversations(spending: Spending, limit: int = 10) -> list[dict]:
    """The costliest conversations with priced replies, each with its overhead (its title call):
    ranked in the database by their replies' cost plus their calls' (a subquery), then the calls of
    those few summed. Two queries."""
    labels = {"conversation_pk": F("conversation_id"), "label": F("conversation__title")}
    overhead = (
        spending.calls.filter(conversation_id=OuterRef("conversation_id"))
        .order_by()
        .values("conversation_id")
        .annotate(total=Sum("cost"))
        .values("total")
    )
    replies = list(
        spending.replies.filter(cost__isnull=False)
        .annotate(**labels)
        .values(*labels)
        .annotate(**usage_sums())
        # Not Coalesce(Subquery(...), 0) + cost: the database would then group by the subquery too,
        # and run it for every reply instead of once per conversation.
        .annotate(ranked=Coalesce(F("cost") + Subquery(overhead), F("cost")))
        .order_by("-ranked")[:limit]
    )
    chosen = spending.calls.filter(conversation_id__in=[row["conversation_pk"] for row in replies])
    calls = chosen.annotate(**labels).values(*labels).annotate(**usage_sums()).order_by()
    return _costliest_first(merged(replies, calls, labels))


def prompt_version_stats(prompt: SystemPrompt) -> list[dict]:
    """Per version, newest first: replies, tokens, cache hit rate, tokens read from cache, money saved."""
    rows = breakdown(spent().of_prompt(prompt.pk), {"version": F("conversation__prompt_version__number")})
    return sorted(rows, key=lambda row: -row["version"])
