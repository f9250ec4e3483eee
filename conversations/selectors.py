"""Reads, always scoped to the requesting user."""

import base64
import hashlib
import hmac
from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from teams.selectors import prompts_usable_by
from usage.selectors import totals as usage_totals

from .anthropic_request import Turn, turns_of
from .models import Attachment, ContentBlock, Conversation, Message, ModelPrice
from .pricing import Price


def conversation_list_for_user(user) -> QuerySet[Conversation]:
    return Conversation.objects.filter(owner=user).order_by("-updated_at").only("id", "title")


def conversation_for_user(user, conversation_id: int) -> Conversation | None:
    if not user.is_authenticated:
        return None
    return Conversation.objects.filter(owner=user, pk=conversation_id).first()


def messages_with_blocks(conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.prefetch_related(
        Prefetch("blocks", queryset=ContentBlock.objects.order_by("index"))
    )


def messages_marking_latest(conversation: Conversation) -> list[Message]:
    """The page's messages; the latest question and reply get `is_latest` (they can be edited or
    regenerated)."""
    messages = list(messages_with_blocks(conversation))
    current = [m for m in messages if not m.superseded][-2:]
    for message in current:
        message.is_latest = True
    return messages


def message_for_user(user, message_id: int) -> Message | None:
    return Message.objects.filter(pk=message_id, conversation__owner=user).first()


def earlier_messages(reply: Message) -> list[Message]:
    return list(messages_with_blocks(reply.conversation).filter(id__lt=reply.id, superseded=False))


def turns_before(reply: Message, *, skip: int = 0) -> list[Turn]:
    """The stored history a reply answers: every earlier message of its conversation, but the
    oldest `skip` (left out to fit the context window)."""
    return turns_for(earlier_messages(reply)[skip:])


def turns_for(messages: list[Message]) -> list[Turn]:
    """Messages as the API sees them. Image and document blocks are stored as references to an
    Attachment; here they become the API's base64 blocks, read from storage."""
    ids = [
        b.payload["attachment_id"] for m in messages for b in m.blocks.all() if "attachment_id" in b.payload
    ]
    stored = Attachment.objects.in_bulk(ids) if ids else {}
    return [
        turn
        for m in messages
        for turn in turns_of(m.role, [_api_block(b.payload, stored) for b in m.blocks.all()])
    ]


def _api_block(payload: dict, stored: dict[int, Attachment]) -> dict:
    if "attachment_id" not in payload:
        return payload
    attachment = stored[payload["attachment_id"]]
    data = (Path(settings.MEDIA_ROOT) / attachment.storage_key).read_bytes()
    source = {"type": "base64", "media_type": attachment.media_type, "data": base64.b64encode(data).decode()}
    return {"type": payload["type"], "source": source}


def attachments_for_user(user, ids: list[str]) -> list[Attachment] | None:
    """The user's attachments with these ids, in order; None if any is missing or someone else's."""
    if not all(i.isdigit() for i in ids):
        return None
    found = Attachment.objects.filter(owner=user).in_bulk([int(i) for i in ids])
    if len(found) != len(set(ids)):
        return None
    return [found[int(i)] for i in ids]


def attachment_for_viewer(user, attachment_id: int) -> Attachment | None:
    """The owner may see an attachment; so may staff (admin review)."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None or not (attachment.owner_id == user.pk or user.is_staff):
        return None
    return attachment


def opaque_user_id(user_id: int) -> str:
    """The `metadata.user_id` sent to the API: stable per user, and reveals nothing about them."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"user:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def price_for_model(model: str) -> Price | None:
    """The price row whose id is the longest prefix of `model`, or None when there is none."""
    rows = [row for row in ModelPrice.objects.all() if model.startswith(row.model)]
    if not rows:
        return None
    row = max(rows, key=lambda r: len(r.model))
    return Price(row.input, row.output, row.cache_write_5m, row.cache_write_1h, row.cache_read)


def conversation_totals(conversation: Conversation) -> dict:
    return usage_totals(conversation.messages.filter(role=Message.Role.ASSISTANT))


def newer_prompt_version(user, conversation: Conversation):
    """The latest version of the conversation's prompt, when it is newer and the user may still use it."""
    pinned = conversation.prompt_version
    if pinned is None or not prompts_usable_by(user).filter(pk=pinned.prompt_id).exists():
        return None
    latest = pinned.prompt.latest
    return latest if latest.number > pinned.number else None
