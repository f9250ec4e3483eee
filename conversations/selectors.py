"""Reads, always scoped to the requesting user."""

import hashlib
import hmac

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from .anthropic_request import Turn
from .models import ContentBlock, Conversation, Message


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


def message_for_user(user, message_id: int) -> Message | None:
    return Message.objects.filter(pk=message_id, conversation__owner=user).first()


def turns_before(reply: Message) -> list[Turn]:
    """The stored history a reply answers: every earlier message of its conversation."""
    earlier = messages_with_blocks(reply.conversation).filter(id__lt=reply.id)
    return [Turn(m.role, [b.payload for b in m.blocks.all()]) for m in earlier]


def opaque_user_id(user_id: int) -> str:
    """The `metadata.user_id` sent to the API: stable per user, and reveals nothing about them."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"user:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
