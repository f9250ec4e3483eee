"""Connector pages: a team's (its owners choose the connectors and tools its chats may use; its
other members read the choice) and each person's own tokens. Anyone outside the team gets 404 on
the team's page; a token view 404s for a connector the person may not use. A token is read from
the form, encrypted, and never shown, logged or echoed back."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from conversations.connectors import selectors, services
from conversations.connectors.services import ConnectorError
from conversations.models import Connector
from teams.models import Membership
from teams.selectors import membership_for


def _team_page(request: HttpRequest, membership: Membership, error: tuple[int, str] | None = None):
    """The team's page; a refused save renders it here too, that connector's error beside it."""
    context = {
        "team": membership.team,
        "is_owner": membership.role == Membership.Role.OWNER,
        "offers": selectors.team_offers(membership.team_id),
        "error_connector": error[0] if error else None,
        "error": error[1] if error else "",
    }
    return render(request, "conversations/connectors/team.html", context, status=422 if error else 200)


@login_required
def team_connectors(request: HttpRequest, team_id: int) -> HttpResponse:
    membership = membership_for(request.user, team_id)
    if membership is None:
        raise Http404("No such team")
    if request.method != "POST":
        return _team_page(request, membership)
    if membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the team's owners choose its connectors.")
    connector = _offered(team_id, request.POST.get("connector", ""))
    try:
        services.team_connector_choose(
            team_id=team_id,
            connector=connector,
            user=request.user,
            use=request.POST.get("use") == "on",
            tools=request.POST.getlist("tools"),
            writes=request.POST.getlist("writes"),
        )
    except ConnectorError as exc:
        return _team_page(request, membership, (connector.pk, str(exc)))
    messages.success(request, f"Saved {connector.title}.")
    return redirect(f"{reverse('team_connectors', args=[team_id])}#connector-{connector.pk}")


def _offered(team_id: int, connector_id: str) -> Connector:
    digits = connector_id.isascii() and connector_id.isdecimal() and len(connector_id) <= 18
    connector = Connector.objects.filter(pk=int(connector_id), teams__id=team_id).first() if digits else None
    if connector is None:
        raise Http404("No such connector for this team")
    return connector


@login_required
def my_connectors(request: HttpRequest) -> HttpResponse:
    return _my_page(request)


def _my_page(request: HttpRequest, error: tuple[int, str] | None = None) -> HttpResponse:
    rows, stale = selectors.personal_page(request.user.pk)
    context = {
        "rows": rows,
        "stale": stale,
        "error_connector": error[0] if error else None,
        "error": error[1] if error else "",
    }
    return render(request, "conversations/connectors/mine.html", context, status=422 if error else 200)


@sensitive_post_parameters("token")
@login_required
@require_POST
def connector_token_set(request: HttpRequest, connector_id: int) -> HttpResponse:
    """Add or replace the person's token; the page then says when, never what."""
    connector = selectors.personal_connector(request.user.pk, connector_id)
    if connector is None:
        raise Http404("No such connector")
    try:
        services.token_set(user=request.user, connector=connector, token=request.POST.get("token", ""))
    except ConnectorError as exc:
        return _my_page(request, (connector.pk, str(exc)))
    messages.success(request, f"Token saved for {connector.title}.")
    return redirect(f"{reverse('my_connectors')}#connector-{connector.pk}")


@login_required
@require_POST
def connector_token_remove(request: HttpRequest, connector_id: int) -> HttpResponse:
    """Remove the person's own token: also for a connector they no longer use, as it is theirs."""
    connector = Connector.objects.filter(pk=connector_id).first()
    if connector is None or not services.token_remove(user=request.user, connector_id=connector_id):
        raise Http404("No such token")
    messages.success(request, f"Token removed for {connector.title}.")
    return redirect("my_connectors")
