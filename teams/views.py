"""Team and prompt pages. Non-members get 404 for everything of a team; members who lack the
role for an action get 403."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import MemberAddForm, MemberUpdateForm, NewPromptForm, PromptForm, TeamForm, checked
from .models import Membership, PromptVersion
from .services import TeamError


def _membership(request: HttpRequest, team_id: int, *, owner: bool = False) -> Membership:
    membership = selectors.membership_for(request.user, team_id)
    if membership is None:
        raise Http404("No such team")
    if owner and membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only owners manage members.")
    return membership


def _team_page(
    request: HttpRequest, membership: Membership, error: str = "", status: int = 200
) -> HttpResponse:
    members = membership.team.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "teams/team_detail.html",
        {
            "membership": membership,
            "team": membership.team,
            "members": members,
            "roles": Membership.Role,
            "error": error,
        },
        status=status,
    )


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            team = services.team_create(user=request.user, name=checked(TeamForm(request.POST))["name"])
            return redirect("team_detail", team.pk)
        except TeamError as exc:
            error = str(exc)
    teams = selectors.teams_for_user(request.user)
    return render(
        request, "teams/team_list.html", {"teams": teams, "error": error}, status=422 if error else 200
    )


@login_required
def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    return _team_page(request, _membership(request, team_id))


@login_required
@require_POST
def member_add(request: HttpRequest, team_id: int) -> HttpResponse:
    membership = _membership(request, team_id, owner=True)
    try:
        data = checked(MemberAddForm(request.POST))
        services.member_add(team=membership.team, identifier=data["user"], role=data["role"])
    except TeamError as exc:
        return _team_page(request, membership, str(exc), 422)
    return redirect("team_detail", team_id)


@login_required
@require_POST
def member_update(request: HttpRequest, team_id: int, membership_id: int) -> HttpResponse:
    mine = _membership(request, team_id, owner=True)
    target = mine.team.memberships.filter(pk=membership_id).first()
    if target is None:
        raise Http404("No such member")
    try:
        data = checked(MemberUpdateForm(request.POST))
        if data["action"] == "remove":
            services.member_remove(membership=target)
        else:
            services.member_set_role(membership=target, role=data["role"])
    except TeamError as exc:
        return _team_page(request, mine, str(exc), 422)
    if target.user_id == request.user.pk and request.POST.get("action") == "remove":
        return redirect("team_list")
    return redirect("team_detail", team_id)


# --- prompts -----------------------------------------------------------------------------


def _prompt_form(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    context = {
        "teams": selectors.teams_user_can_publish_to(request.user),
        "ttls": PromptVersion.CacheTTL.choices,
        **context,
    }
    return render(request, "teams/prompt_form.html", context, status=status)


@login_required
def prompt_list(request: HttpRequest) -> HttpResponse:
    return render(request, "teams/prompt_list.html", {"prompts": selectors.prompts_to_choose(request.user)})


@login_required
def prompt_new(request: HttpRequest) -> HttpResponse:
    form = {"name": "", "text": "", "team": "", "cache_ttl": "5m"}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        try:
            data = checked(NewPromptForm(request.POST))
            team = None
            if data["team"] is not None:
                team = selectors.teams_user_can_publish_to(request.user).filter(pk=data["team"]).first()
                if team is None:
                    raise Http404("No such team")
            prompt = services.prompt_create(
                user=request.user,
                name=data["name"],
                text=data["text"],
                team=team,
                cache_ttl=data["cache_ttl"],
            )
            return redirect("prompt_detail", prompt.pk)
        except TeamError as exc:
            return _prompt_form(request, {"form": form, "error": str(exc)}, 422)
    return _prompt_form(request, {"form": form})


def _prompt(request: HttpRequest, prompt_id: int, *, edit: bool = False):
    access = selectors.prompt_access(request.user, prompt_id)
    if access is None:
        raise Http404("No such prompt")
    if edit and not access[1]:
        raise PermissionDenied("Only the team's editors and owners edit its prompts.")
    return access


@login_required
def prompt_detail(request: HttpRequest, prompt_id: int) -> HttpResponse:
    prompt, can_edit = _prompt(request, prompt_id)
    context = {
        "prompt": prompt,
        "can_edit": can_edit,
        "versions": selectors.versions_with_diffs(prompt),
    }
    return render(request, "teams/prompt_detail.html", context)


@login_required
def prompt_edit(request: HttpRequest, prompt_id: int) -> HttpResponse:
    prompt, _ = _prompt(request, prompt_id, edit=True)
    latest = prompt.latest
    form = {"name": prompt.name, "text": latest.text, "cache_ttl": latest.cache_ttl}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        try:
            data = checked(PromptForm(request.POST))
            services.prompt_edit(
                user=request.user,
                prompt=prompt,
                name=data["name"],
                text=data["text"],
                cache_ttl=data["cache_ttl"],
            )
            return redirect("prompt_detail", prompt.pk)
        except TeamError as exc:
            return _prompt_form(request, {"form": form, "prompt": prompt, "error": str(exc)}, 422)
    return _prompt_form(request, {"form": form, "prompt": prompt})
