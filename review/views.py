"""Staff review of conversations. Opening a transcript is a POST that first writes the audit row;
the transcript is the response to that POST, so every opening is recorded."""

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from conversations import selectors as chat_selectors
from conversations.models import Conversation

from . import selectors
from .models import TranscriptView

FILTERS = ["user", "team", "model", "since", "until", "status", "attachments", "prompt_version", "q"]


@staff_member_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "").strip() for key in FILTERS}
    conversations = selectors.conversations_for_review(filters)[:200]
    return render(
        request,
        "review/conversation_list.html",
        {"conversations": conversations, "filters": filters, "statuses": selectors.STATUSES},
    )


@staff_member_required
def open_prompt(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.select_related("owner"), pk=conversation_id)
    return render(request, "review/open.html", {"conversation": conversation})


@staff_member_required
@require_POST
def transcript(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation.objects.select_related("owner", "prompt_version__prompt"), pk=conversation_id
    )
    TranscriptView.objects.create(
        staff=request.user,
        conversation=conversation,
        conversation_title=conversation.title,
        conversation_owner=conversation.owner,
        reason=request.POST.get("reason", "").strip()[:500],
    )
    messages = chat_selectors.messages_with_blocks(conversation)
    return render(
        request, "review/transcript.html", {"conversation": conversation, "messages_list": messages}
    )


@login_required
def my_reviews(request: HttpRequest) -> HttpResponse:
    return render(request, "review/my_reviews.html", {"reviews": selectors.reviews_of_user(request.user)})
