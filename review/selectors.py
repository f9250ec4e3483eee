"""Reads for staff review. Lists carry titles only; message text is shown only in an audited view."""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from conversations.models import Attachment, ContentBlock, Conversation, Message, Share

from .models import SearchAudit, TranscriptView

STATUSES = ["error", "interrupted", "stopped", "streaming"]


def conversations_for_review(filters: dict) -> QuerySet[Conversation]:
    """`filters` is the cleaned data of review.forms.ReviewFilterForm."""
    qs = Conversation.objects.visible().select_related("owner", "prompt_version__prompt")
    live_shares = Share.objects.filter(revoked_at__isnull=True).select_related("team").order_by("team__name")
    qs = qs.prefetch_related(Prefetch("shares", queryset=live_shares, to_attr="live_shares"))
    qs = qs.order_by("-updated_at")
    if filters.get("shared"):
        qs = qs.filter(Exists(Share.objects.filter(conversation=OuterRef("pk"), revoked_at__isnull=True)))
    if filters.get("user"):
        qs = qs.filter(owner__username__iexact=filters["user"])
    if filters.get("team"):
        qs = qs.filter(owner__memberships__team__name__iexact=filters["team"])
    if filters.get("model"):
        qs = qs.filter(model=filters["model"])
    if filters.get("since"):
        qs = qs.filter(created_at__date__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(created_at__date__lte=filters["until"])
    if filters.get("status") in STATUSES:
        qs = qs.filter(Exists(Message.objects.filter(conversation=OuterRef("pk"), status=filters["status"])))
    if filters.get("attachments"):
        qs = qs.filter(
            Exists(
                ContentBlock.objects.filter(
                    message__conversation=OuterRef("pk"), type__in=["image", "document"]
                )
            )
        )
    if filters.get("prompt_version"):
        qs = qs.filter(prompt_version_id=filters["prompt_version"])
    if filters.get("q"):
        text_match = ContentBlock.objects.filter(
            message__conversation=OuterRef("pk"), payload__text__icontains=filters["q"]
        )
        qs = qs.filter(Q(title__icontains=filters["q"]) | Exists(text_match))
    return qs.distinct()


def shares_of(conversation: Conversation) -> QuerySet[Share]:
    """Every share of the conversation, revoked ones too: what the transcript lists."""
    return Share.objects.filter(conversation=conversation).select_related("team", "shared_by")


def reviews_of_user(user) -> QuerySet[TranscriptView]:
    return TranscriptView.objects.filter(conversation_owner=user).select_related("staff")


def searches_listing_user(user) -> QuerySet[SearchAudit]:
    """Staff text searches that listed any of the user's conversations."""
    return SearchAudit.objects.filter(listed_owners=user).select_related("staff")


def opened_recently(staff, conversation_id: int, *, hours: float) -> bool:
    """Whether this staff member opened the transcript (an audited TranscriptView) in the last `hours`."""
    since = timezone.now() - timedelta(hours=hours)
    return TranscriptView.objects.filter(
        staff=staff, conversation_id=conversation_id, viewed_at__gte=since
    ).exists()


def attachment_of_conversation(conversation: Conversation, attachment_id: int) -> Attachment | None:
    """The attachment when one of the conversation's content blocks refers to it, else None."""
    referenced = ContentBlock.objects.filter(
        message__conversation=conversation, payload__attachment_id=attachment_id
    )
    return Attachment.objects.filter(
        Exists(referenced), pk=attachment_id, owner_id=conversation.owner_id
    ).first()
