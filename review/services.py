"""Writes for review: the audit records of a staff member opening a transcript, and of a staff
search of message text."""

from django.db import transaction

from conversations.models import Conversation

from .models import SearchAudit, TranscriptView


def transcript_view_create(*, staff, conversation: Conversation, reason: str) -> TranscriptView:
    """Who opened the transcript and why, written before it is shown (the title and owner are kept
    for the audit trail, should the conversation be purged)."""
    return TranscriptView.objects.create(
        staff=staff,
        conversation=conversation,
        conversation_title=conversation.title,
        conversation_owner=conversation.owner,
        reason=reason,
    )


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
