"""Staff review of conversations. Opening a transcript is a POST that first writes the audit row;
the transcript is the response to that POST, so every opening is recorded. Its attachments are
served only to the staff member who opened it, for CHAT_REVIEW_ATTACHMENT_HOURS after (the files
code execution made too). Searching
message text is recorded too, and shown to the owners of the conversations it listed."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from chatsite.access import staff_required
from chatsite.forms import error_text
from conversations import selectors as chat_selectors
from conversations.models import Conversation, ProducedFile
from conversations.serving import attachment_response, produced_file_response

from . import selectors, services
from .forms import OpeningForm, ReviewFilterForm

LISTED = 200


@staff_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    form = ReviewFilterForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "error": error_text(form)}
        return render(request, "review/conversation_list.html", context, status=400)
    matches = selectors.conversations_for_review(form.cleaned_data)
    conversations = list(matches[:LISTED])
    if query := form.cleaned_data["q"]:
        services.search_audit_create(
            staff=request.user,
            query=query,
            listed=conversations,
            match_count=matches.count() if len(conversations) == LISTED else len(conversations),
        )
    return render(request, "review/conversation_list.html", {"form": form, "conversations": conversations})


def _open_page(
    request: HttpRequest, conversation: Conversation, form: OpeningForm, status: int = 200
) -> HttpResponse:
    context = {"conversation": conversation, "form": form, "error": error_text(form) if form.is_bound else ""}
    return render(request, "review/open.html", context, status=status)


@staff_required
def open_prompt(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation.objects.visible().select_related("owner"), pk=conversation_id
    )
    return _open_page(request, conversation, OpeningForm())


@staff_required
@require_POST
def transcript(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation.objects.visible().select_related("owner", "prompt_version__prompt"), pk=conversation_id
    )
    form = OpeningForm(request.POST)
    if not form.is_valid():
        return _open_page(request, conversation, form, 422)
    services.transcript_view_create(
        staff=request.user, conversation=conversation, reason=form.cleaned_data["reason"]
    )
    messages = chat_selectors.messages_with_blocks(conversation)
    # review_conversation: the shared block template links files through transcript_attachment.
    context = {
        "conversation": conversation,
        "messages_list": messages,
        "review_conversation": conversation,
        "shares": selectors.shares_of(conversation),
    }
    return render(request, "review/transcript.html", context)


@staff_required
def transcript_attachment(request: HttpRequest, conversation_id: int, attachment_id: int) -> HttpResponse:
    """A file of a transcript this staff member opened (recorded) within the last few hours."""
    conversation = get_object_or_404(Conversation, pk=conversation_id)
    hours = settings.CHAT_REVIEW_ATTACHMENT_HOURS
    if not selectors.opened_recently(request.user, conversation.pk, hours=hours):
        raise PermissionDenied(
            f"Open the transcript first: each opening is recorded and shows its files for {hours:g} hours."
        )
    attachment = selectors.attachment_of_conversation(conversation, attachment_id)
    if attachment is None:
        raise Http404("No such attachment in this conversation")
    # Not kept by the browser past the audited window.
    return attachment_response(attachment, cache_control="private, no-store")


@staff_required
async def transcript_produced_file(request: HttpRequest, conversation_id: int, file_id: str) -> HttpResponse:
    """A file code execution made in a transcript this staff member opened (recorded) lately."""
    hours = settings.CHAT_REVIEW_ATTACHMENT_HOURS
    staff = await request.auser()
    if not await sync_to_async(selectors.opened_recently)(staff, conversation_id, hours=hours):
        raise PermissionDenied(
            f"Open the transcript first: each opening is recorded and shows its files for {hours:g} hours."
        )
    produced = await ProducedFile.objects.filter(conversation_id=conversation_id, file_id=file_id).afirst()
    if produced is None:
        raise Http404("No such file in this conversation")
    return await produced_file_response(produced, cache_control="private, no-store")


@login_required
def my_reviews(request: HttpRequest) -> HttpResponse:
    context = {
        "reviews": selectors.reviews_of_user(request.user),
        "searches": selectors.searches_listing_user(request.user),
    }
    return render(request, "review/my_reviews.html", context)
