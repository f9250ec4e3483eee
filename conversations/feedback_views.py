"""Feedback on a reply: Good response, Bad response and a comment (the owner of the conversation
only: 404 for anyone else), and what a prompt's editors see of it on the prompt's page (404 for
anyone who may not edit the prompt). Each answer is the fragment the page swaps in."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from conversations import selectors, services
from conversations.models import Message, ReplyFeedback
from conversations.services import ChatError


def _reply(request: HttpRequest, message_id: int) -> Message:
    reply = selectors.reply_for_owner(request.user, message_id)
    if reply is None:
        raise Http404("No such reply")
    return reply


def _fragment(
    request: HttpRequest, reply: Message, feedback: ReplyFeedback | None, status: int = 200, **state
) -> HttpResponse:
    """The reply's feedback as the page shows it; `state`: opened (the comment form), saved, error and
    the comment typed (kept when it was refused). Without htmx, back to the reply."""
    if not request.htmx:
        url = reverse("conversation", args=[reply.conversation_id])
        return redirect(f"{url}#message-{reply.pk}")
    context = {"message_id": reply.pk, "feedback": feedback, **state}
    return render(request, "conversations/_feedback.html", context, status=status)


@login_required
@require_POST
def rate_reply(request: HttpRequest, message_id: int) -> HttpResponse:
    """Good response or Bad response pressed: stored, changed, or cleared when it was the one
    pressed; the comment form opens with a rating."""
    reply = _reply(request, message_id)
    try:
        feedback = services.feedback_rate(reply=reply, rating=request.POST.get("rating", ""))
    except ChatError as exc:
        current = ReplyFeedback.objects.filter(message=reply).first()
        return _fragment(request, reply, current, 422, error=str(exc))
    return _fragment(request, reply, feedback, opened=feedback is not None)


@login_required
@require_POST
def comment_reply(request: HttpRequest, message_id: int) -> HttpResponse:
    reply = _reply(request, message_id)
    comment = request.POST.get("comment", "")
    try:
        feedback = services.feedback_comment(reply=reply, comment=comment)
    except ChatError as exc:
        current = ReplyFeedback.objects.filter(message=reply).first()
        return _fragment(request, reply, current, 422, opened=True, error=str(exc), comment=comment)
    return _fragment(request, reply, feedback, opened=True, saved=True)


@login_required
@require_GET
def prompt_feedback(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """The prompt page's feedback section (a partial it loads): ratings and comments given in chats
    on the prompt's versions (selectors.feedback_for_prompt says what it leaves out, and why)."""
    feedback = selectors.feedback_for_prompt(request.user, prompt_id)
    if feedback is None:
        raise Http404("No such prompt")
    return render(request, "conversations/_prompt_feedback.html", feedback)
