"""Usage aggregates, computed in the database. The number of queries does not grow with the data."""

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import F, QuerySet
from django.db.models.functions import TruncDate

from conversations.models import Message
from conversations.selectors import usage_sums, with_hit_rate
from teams.models import SystemPrompt


def replies_between(since: date, until: date) -> QuerySet[Message]:
    """Replies created on those UTC days. A plain datetime range, so an index can serve it."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    # Not copied in: an imported or shared copy's tokens were spent before, and are counted there.
    return Message.objects.filter(
        role=Message.Role.ASSISTANT, copied_at__isnull=True, created_at__gte=start, created_at__lt=end
    )


def per_day(replies: QuerySet[Message]) -> list[dict]:
    rows = (
        replies.annotate(day=TruncDate("created_at")).values("day").annotate(**usage_sums()).order_by("day")
    )
    return [with_hit_rate(row) for row in rows]


def breakdown(replies: QuerySet[Message], **label) -> list[dict]:
    rows = (
        replies.annotate(**label)
        .values(*label)
        .annotate(**usage_sums())
        .order_by(F("cost").desc(nulls_last=True))
    )
    return [with_hit_rate(row) for row in rows]


def by_user(replies: QuerySet[Message]) -> list[dict]:
    return breakdown(replies, label=F("conversation__owner__username"))


def by_team(replies: QuerySet[Message]) -> list[dict]:
    """Attributed by the team whose prompt the conversation uses; no team prompt: no team."""
    return breakdown(replies, label=F("conversation__prompt_version__prompt__team__name"))


def by_model(replies: QuerySet[Message]) -> list[dict]:
    return breakdown(replies, label=F("model"))


def by_prompt_version(replies: QuerySet[Message]) -> list[dict]:
    return breakdown(
        replies,
        label=F("conversation__prompt_version__prompt__name"),
        version=F("conversation__prompt_version__number"),
    )


def most_expensive_conversations(replies: QuerySet[Message], limit: int = 10) -> list[dict]:
    rows = (
        replies.filter(cost__isnull=False)
        .values(conversation_pk=F("conversation_id"), label=F("conversation__title"))
        .annotate(**usage_sums())
        .order_by("-cost")[:limit]
    )
    return [with_hit_rate(row) for row in rows]


def prompt_version_stats(prompt: SystemPrompt) -> list[dict]:
    """Per version, newest first: replies, tokens, cache hit rate, tokens read from cache, money saved."""
    replies = Message.objects.filter(
        conversation__prompt_version__prompt=prompt, role=Message.Role.ASSISTANT, copied_at__isnull=True
    )
    rows = breakdown(replies, version=F("conversation__prompt_version__number"))
    return sorted(rows, key=lambda row: -row["version"])
