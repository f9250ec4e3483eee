"""Retention: conversations not touched for longer than the policy are scrubbed.

The policy is CHAT_RETENTION_DAYS for the instance (0: keep everything), and optionally a stricter
one per team (Admin > Team retentions), which applies to conversations on that team's prompts (as
team usage and budgets do). A team's policy can only shorten the instance's, never lengthen it.

Scrubbing (conversations.organising.conversations_scrub) removes the text, the files only those
conversations used (on disk, and through `lifecycle.remote_data_delete` any remote copies), and
keeps each reply's usage row and the audit trail (transcript openings keep their titles), so
usage totals and budgets still add up. It runs in batches of short transactions: other writers
wait at most one batch.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from conversations.library.organising import conversations_scrub
from conversations.models import Conversation, Message

from . import lifecycle
from .models import TeamRetention
from .signals import forget_expired_sessions

BATCH = 50


@dataclass
class PurgeReport:
    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    longest_batch: float = 0.0  # seconds: the longest any one transaction held its locks


def _stricter_teams() -> list[tuple[int, int]]:
    teams = TeamRetention.objects.values_list("team_id", "days")
    instance = settings.CHAT_RETENTION_DAYS
    return [(team, days) for team, days in teams if not instance or days < instance]


def expired(now: datetime | None = None) -> QuerySet[Conversation]:
    """Conversations past their policy, not scrubbed yet and with no reply streaming."""
    now = now or timezone.now()
    rules = Q()
    if settings.CHAT_RETENTION_DAYS:
        rules |= Q(updated_at__lt=now - timedelta(days=settings.CHAT_RETENTION_DAYS))
    for team_id, days in _stricter_teams():
        rules |= Q(prompt_version__prompt__team_id=team_id, updated_at__lt=now - timedelta(days=days))
    if not rules:
        return Conversation.objects.none()
    streaming = Message.objects.filter(conversation=OuterRef("pk"), status=Message.Status.STREAMING)
    return Conversation.objects.filter(rules, scrubbed_at__isnull=True).exclude(Exists(streaming))


def purge(*, dry_run: bool = False, batch: int = BATCH, now: datetime | None = None) -> PurgeReport:
    """Scrub every expired conversation, `batch` at a time; with dry_run, only count them."""
    report = PurgeReport()
    if dry_run:
        ids = expired(now).values("pk")
        report.conversations = ids.count()
        report.messages = Message.objects.filter(conversation_id__in=ids).count()
        return report
    forget_expired_sessions()
    while ids := list(expired(now).order_by("pk").values_list("pk", flat=True)[:batch]):
        report.messages += Message.objects.filter(conversation_id__in=ids).count()
        started = time.perf_counter()
        deleted = conversations_scrub(ids, before_files_deleted=lifecycle.remote_data_delete)
        report.longest_batch = max(report.longest_batch, time.perf_counter() - started)
        report.conversations += len(ids)
        report.attachments += len(deleted)
    return report
