"""Sharing with a team: share and revoke (the owner), read the snapshot and continue it in one's
own chats (the team's members), and the list of what one's teams shared. Every view checks
ownership or membership; anything else, a revoked share included, is a 404."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from conversations import selectors
from conversations.forms import parse_id
from conversations.library import sharing
from conversations.models import Share
from conversations.services import ChatError


def _readable(request: HttpRequest, share_id: int) -> Share:
    share = sharing.share_for_reader(request.user, share_id)
    if share is None:
        raise Http404("No such share")
    return share


@login_required
@require_POST
def share_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Share one of the user's conversations with one of their teams (a snapshot of it now)."""
    conversation = selectors.listed_conversation(request.user, conversation_id)
    team_id = parse_id(request.POST.get("team", ""))
    team = sharing.team_for_sharing(request.user, team_id) if team_id else None
    if team is None:
        raise Http404("No such team")
    try:
        sharing.share_create(conversation=conversation, team=team)
    except ChatError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    return redirect("conversation", conversation.pk)


@login_required
@require_POST
def share_revoke(request: HttpRequest, share_id: int) -> HttpResponse:
    share = sharing.share_for_owner(request.user, share_id)
    if share is None:
        raise Http404("No such share")
    sharing.share_revoke(share=share)
    return redirect("conversation", share.conversation_id)


@login_required
@require_GET
def shared_conversation(request: HttpRequest, share_id: int) -> HttpResponse:
    """The snapshot, read-only."""
    share = _readable(request, share_id)
    context = {
        "share": share,
        "messages_list": sharing.snapshot_messages(share),
        "is_owner": share.shared_by_id == request.user.pk,
    }
    return render(request, "conversations/shared.html", context)


@login_required
@require_POST
def share_continue(request: HttpRequest, share_id: int) -> HttpResponse:
    """A copy of the snapshot in the user's own list; they go on in it."""
    conversation = sharing.share_continue(user=request.user, share=_readable(request, share_id))
    return redirect("conversation", conversation.pk)


@login_required
@require_GET
def shared_with_me(request: HttpRequest) -> HttpResponse:
    shares = sharing.shares_for_member(request.user)
    return render(request, "conversations/shared_list.html", {"shares": shares})
