"""Temporary chats: started with **Temporary chat** on the New chat page, never listed, searched,
exported or shared (`Conversation.objects.listed()`), and scrubbed like a chat past retention
(organising.conversations_scrub: the text and files go, each reply's usage row stays, so usage and
budgets still count it) when their owner leaves them, or a day after they began
(`Conversation.temporary_until`). Staff review still opens one, marked temporary, until then.

Leaving is the last tab's socket closing (live/consumers.py sets `left_at`); a tab that comes back
within LEAVE_GRACE (a reload, a dropped connection) clears it. Each worker's sweep scrubs those left
longer ago, and those past their day, once no reply streams in them. A tab open on another worker
keeps no chat here: it is left when the tab on this worker closes (their sockets are not counted
across workers), which for a chat meant to vanish errs on the side of vanishing.
"""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from conversations.library.organising import conversations_scrub
from conversations.models import Conversation, Message

LEAVE_GRACE = timedelta(seconds=30)
BATCH = 50


def conversation_left(conversation_id: int) -> None:
    """Its last tab here closed: scrubbed by the sweep after LEAVE_GRACE unless a tab comes back."""
    Conversation.objects.filter(pk=conversation_id, temporary_until__isnull=False).update(
        left_at=timezone.now()
    )


def conversation_returned(conversation_id: int) -> None:
    """A tab opened it again (a reload): it is not left."""
    Conversation.objects.filter(pk=conversation_id, left_at__isnull=False).update(left_at=None)


def expired(now=None):
    """Temporary chats left more than LEAVE_GRACE ago, or past their day, with no reply streaming."""
    now = now or timezone.now()
    due = Q(temporary_until__lt=now) | Q(left_at__lt=now - LEAVE_GRACE)
    streaming = Message.objects.filter(conversation=OuterRef("pk"), status=Message.Status.STREAMING)
    chats = Conversation.objects.filter(due, temporary_until__isnull=False, scrubbed_at__isnull=True)
    return chats.exclude(Exists(streaming))


def temporary_chats_scrub(now=None) -> int:
    """Scrub the expired temporary chats, BATCH per short transaction. How many went."""
    done = 0
    while ids := list(expired(now).order_by("pk").values_list("pk", flat=True)[:BATCH]):
        conversations_scrub(ids)
        done += len(ids)
    return done
