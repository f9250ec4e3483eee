"""Approve or Deny a connector tool that writes (claude/mcp.py): the conversation's owner only (404
for anyone else, staff included). The answer is the request block as it now shows; without htmx,
back to the reply."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from conversations import rendering, selectors, services
from conversations.blocks.mcp import APPROVAL_TOOL


@login_required
@require_POST
def answer_approval(request: HttpRequest, message_id: int, call_id: str) -> HttpResponse:
    reply = selectors.reply_for_owner(request.user, message_id)
    asked = (
        reply
        and reply.blocks.filter(type="tool_use", payload__id=call_id, payload__name=APPROVAL_TOOL).first()
    )
    if not asked:
        raise Http404("No such request")
    approved = request.POST.get("answer") == "approve"
    reason = "" if approved else request.POST.get("reason", "")
    services.approval_answer(message=reply, call_id=call_id, approved=approved, reason=reason)
    if not request.htmx:
        return redirect(reverse("conversation", args=[reply.conversation_id]) + f"#message-{reply.pk}")
    return HttpResponse(rendering.block_html(asked))
