"""A team's web access, set by its owners: whether conversations on the team's prompts may use
web search and fetch (web.py). 404 outside the team, as for every team page; 403 for members who
are not owners."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from conversations import services
from conversations.models import TeamPolicy
from teams.models import Membership
from teams.selectors import membership_for


@login_required
def team_web_access(request: HttpRequest, team_id: int) -> HttpResponse:
    membership = membership_for(request.user, team_id)
    if membership is None:
        raise Http404("No such team")
    if membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the team's owners decide its web access.")
    if request.method == "POST":
        services.team_policy_update(team_id=team_id, web_access=request.POST.get("web_access") == "on")
        return redirect(reverse("team_web_access", args=[team_id]) + "?saved=1")
    policy = TeamPolicy.objects.filter(team_id=team_id).first()
    context = {"team": membership.team, "web_access": policy.web_access if policy else True}
    return render(request, "conversations/team_web_access.html", context)
