"""Writes for review: the audit record of a staff search of message text."""

from django.db import transaction

from conversations.models import Conversation

from .models import SearchAudit


def search_audit_create(*, staff, query: str, listed: list[Conversation], match_count: int) -> SearchAudit:
    with transaction.atomic():
        audit = SearchAudit.objects.create(
            staff=staff,
            query=query,
            match_count=match_count,
            conversation_ids=[c.pk for c in listed],
        )
        audit.listed_owners.set({c.owner_id for c in listed})
    return audit
