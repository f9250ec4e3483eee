"""Feedback on a reply: Good response or Bad response, and an optional comment, by the owner of its
conversation. Pressing the rating a reply has clears it (its comment goes with it); pressing the
other one changes it and keeps the comment. A reply that runs again in place (Retry, Continue) loses
its feedback (turns.py): it rated text the reply no longer has."""

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from conversations.models import ContentBlock, Message, ReplyFeedback
from conversations.services.errors import ChatError

COMMENT_LENGTH = 2000


def rateable(*, role: str, status: str, blocks: Iterable[ContentBlock]) -> bool:
    """The one rule, for the page and for the writes: a reply that has ended and has something to
    rate. A complete reply always; a stopped, failed or interrupted one only with some text."""
    if role != Message.Role.ASSISTANT or status == Message.Status.STREAMING:
        return False
    if status == Message.Status.COMPLETE:
        return True
    return any(block.type == "text" and block.payload.get("text", "").strip() for block in blocks)


def _check_rateable(reply: Message) -> None:
    if not rateable(role=reply.role, status=reply.status, blocks=reply.blocks.filter(type="text")):
        raise ChatError("Only a reply that has finished can be rated.")


def feedback_rate(*, reply: Message, rating: str) -> ReplyFeedback | None:
    """Press Good response or Bad response on `reply` (its conversation loaded): the feedback now,
    or None when the press cleared it. It records the prompt version the chat is pinned to now,
    whose editors see it."""
    if rating not in ReplyFeedback.Rating.values:
        raise ChatError("Choose Good response or Bad response.")
    _check_rateable(reply)
    with transaction.atomic():
        current = ReplyFeedback.objects.filter(message=reply).first()
        if current is not None and current.rating == rating:
            current.delete()
            return None
        if current is not None:
            current.rating = rating
            current.save(update_fields=["rating", "updated_at"])
            return current
        try:
            with transaction.atomic():
                return ReplyFeedback.objects.create(
                    message=reply,
                    user_id=reply.conversation.owner_id,
                    rating=rating,
                    prompt_version_id=reply.conversation.prompt_version_id,
                )
        except IntegrityError:  # another tab rated it a moment ago: this press is the later one
            ReplyFeedback.objects.filter(message=reply).update(rating=rating)
            return ReplyFeedback.objects.get(message=reply)


def feedback_comment(*, reply: Message, comment: str) -> ReplyFeedback:
    """Save the comment on a rated reply (an empty one removes it)."""
    comment = comment.replace("\r\n", "\n").strip()  # a browser sends a newline as CRLF
    if len(comment) > COMMENT_LENGTH:
        raise ChatError(
            f"A comment can be up to {COMMENT_LENGTH:,} characters; this one has {len(comment):,}."
        )
    if "\x00" in comment:  # PostgreSQL cannot store it
        raise ChatError("The comment contains a NUL character, which cannot be stored.")
    feedback = ReplyFeedback.objects.filter(message=reply).first()
    if feedback is None:
        raise ChatError("Choose Good response or Bad response first.")
    feedback.comment = comment
    feedback.save(update_fields=["comment", "updated_at"])
    return feedback
