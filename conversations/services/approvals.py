"""Answers to a connector tool that writes (claude/mcp.py): the reply asks and waits, its owner
answers in the page. The first answer stands; a reply that ends unanswered leaves it denied."""

from django.db import transaction
from django.utils import timezone

from conversations import blocks
from conversations.models import ContentBlock, Message, ToolApproval

UNANSWERED = "The reply ended before an answer."


def approval_open(*, message_id: int, call_id: str) -> None:
    """The reply waits for an answer to this call (the row may exist: answered already)."""
    ToolApproval.objects.get_or_create(message_id=message_id, call_id=call_id)


def approval_answer(*, message: Message, call_id: str, approved: bool, reason: str = "") -> bool:
    """Record the answer when `message` is streaming and asked this; whether it was recorded (False:
    answered already, or nothing waits for it)."""
    asked = ContentBlock.objects.filter(
        message=message, type="tool_use", payload__id=call_id, payload__name=blocks.mcp.APPROVAL_TOOL
    )
    if message.status != Message.Status.STREAMING or not asked.exists():
        return False
    with transaction.atomic():
        row, _ = ToolApproval.objects.select_for_update().get_or_create(message=message, call_id=call_id)
        if row.approved is not None:
            return False
        row.approved, row.reason, row.decided_at = approved, reason.strip()[:500], timezone.now()
        row.save(update_fields=["approved", "reason", "decided_at"])
    return True


def approval_of(*, message_id: int, call_id: str) -> ToolApproval | None:
    return ToolApproval.objects.filter(message_id=message_id, call_id=call_id).first()


def approvals_close(*, message_id: int, reason: str = UNANSWERED) -> None:
    """Whatever still waits is denied: the reply ended (stopped, failed, timed out)."""
    ToolApproval.objects.filter(message_id=message_id, approved__isnull=True).update(
        approved=False, reason=reason, decided_at=timezone.now()
    )
