"""Sharing a conversation with a team: reads and writes, each scoped to the person asking.

The owner shares one of their conversations with one of their teams; the share holds a snapshot
taken then (the JSON export), so later messages stay private. Members of the team, and the
owner, read the snapshot; a member can copy it into their own list ("Continue in my chats"), as
an import of the snapshot. The owner can revoke it; sharing again with the same team replaces the
snapshot. A share is gone for its readers once revoked, or once the conversation is deleted
(purging it also drops the snapshot, organising.py). Whoever may not see a share gets None here,
and the views answer 404: the same for someone else's conversation, a team one is not in, a
revoked share and one that never existed.
"""

from types import SimpleNamespace

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from conversations.library import exporting
from conversations.models import Conversation, Share
from conversations.rendering import render_markdown_blocks
from conversations.services import ChatError
from teams.models import Team
from teams.selectors import teams_for_user


def _live() -> QuerySet[Share]:
    return Share.objects.filter(
        revoked_at__isnull=True, conversation__isnull=False, conversation__deleted_at__isnull=True
    ).select_related("team", "shared_by")


def team_for_sharing(user, team_id: int) -> Team | None:
    """One of the user's teams, else None."""
    return teams_for_user(user).filter(pk=team_id).first() if user.is_authenticated else None


def share_create(*, conversation: Conversation, team: Team) -> Share:
    """Share the conversation as it is now with `team`, replacing an earlier snapshot there. Only
    finished messages: a reply still being written is left out (the page says so)."""
    data = exporting.conversation_data(conversation, finished_only=True)
    try:
        with transaction.atomic():
            Share.objects.filter(conversation=conversation, team=team, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            return Share.objects.create(
                conversation=conversation,
                team=team,
                shared_by=conversation.owner,
                title=conversation.title,
                snapshot=data,
            )
    except IntegrityError as exc:  # the same share made twice at once
        raise ChatError("It was just shared with that team; reload the page.") from exc


def share_revoke(*, share: Share) -> None:
    Share.objects.filter(pk=share.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def share_continue(*, user, share: Share) -> Conversation:
    """A copy of the snapshot in the user's own list, to go on with."""
    data = exporting.ImportedConversation.model_validate(share.snapshot)
    return exporting.conversation_import(user=user, data=data)


def share_for_owner(user, share_id: int) -> Share | None:
    """A live share of one of the user's conversations."""
    if not user.is_authenticated:
        return None
    return _live().filter(pk=share_id, conversation__owner=user).first()


def share_for_reader(user, share_id: int) -> Share | None:
    """A live share the user may read: one of their team's, or their own."""
    if not user.is_authenticated:
        return None
    mine = Q(conversation__owner=user) | Q(team__memberships__user=user)
    return _live().filter(mine, pk=share_id).distinct().first()


def shares_for_member(user) -> QuerySet[Share]:
    """The live shares of the user's teams, newest first (their own included)."""
    return _live().filter(team__memberships__user=user).select_related("conversation").distinct()


def shares_of(conversation: Conversation) -> list[Share]:
    """The conversation's live shares, for its owner's menu."""
    return list(_live().filter(conversation=conversation).order_by("team__name"))


def snapshot_messages(share: Share) -> list[dict]:
    """The snapshot's branch on screen as the read-only page shows it: each message's role, model
    and blocks, shaped for conversations/_block.html (the replies' text rendered, sanitized)."""
    messages = []
    for message in exporting.chosen_branch(share.snapshot):
        blocks = []
        for index, block in enumerate(message["blocks"]):
            html = ""
            if block["type"] == "text" and message["role"] == "assistant":
                html = render_markdown_blocks(block["text"])
            blocks.append(
                SimpleNamespace(
                    type=block["type"], payload=block, index=index, rendered=html, tail=None, streaming=False
                )
            )
        messages.append({**message, "blocks": blocks})
    return messages
