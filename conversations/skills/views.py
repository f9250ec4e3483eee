"""A team's skills pages: the list with the upload form, and a skill's page with its versions, a new
version's upload and Delete. Members read them; only owners upload or delete (403 for the others);
anyone outside the team gets 404 on every URL, as does a skill of another team."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from conversations.models import TeamSkill
from conversations.skills import bundle, selectors, services
from conversations.skills.bundle import BundleError
from conversations.skills.services import SkillError, Upload
from teams.models import Membership
from teams.selectors import membership_for


def _membership(user, team_id: int, *, change: bool = False) -> Membership:
    membership = membership_for(user, team_id)
    if membership is None:
        raise Http404("No such team")
    if change and membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the team's owners upload and delete its skills.")
    return membership


def _skill(membership: Membership, skill_pk: int) -> TeamSkill:
    skill = selectors.team_skill(membership.team_id, skill_pk)
    if skill is None:
        raise Http404("No such skill")
    return skill


def _limits() -> dict:
    return {"max_files": bundle.MAX_FILES, "max_mb": f"{settings.CHAT_SKILL_MAX_BYTES / 2**20:g}"}


def _list_page(request: HttpRequest, membership: Membership, form: dict, error: str = "", status: int = 200):
    """The list page; the page and a refused upload both render it here."""
    context = {
        "team": membership.team,
        "is_owner": membership.role == Membership.Role.OWNER,
        "anthropic_skills": selectors.ANTHROPIC_SKILLS,
        "skills": selectors.team_skills(membership.team_id),
        "form": form,
        "error": error,
        **_limits(),
    }
    return render(request, "conversations/skills/skill_list.html", context, status=status)


def _skill_page(
    request: HttpRequest, membership: Membership, skill: TeamSkill, form: dict, error="", status=200
):
    """A skill's page; the page, a refused upload and a failed delete all render it here."""
    versions = selectors.skill_versions(skill)
    context = {
        "team": membership.team,
        "is_owner": membership.role == Membership.Role.OWNER,
        "skill": skill,
        "versions": [(version, sum(f.get("size", 0) for f in version.files)) for version in versions],
        "form": form,
        "error": error,
        **_limits(),
    }
    return render(request, "conversations/skills/skill_detail.html", context, status=status)


def _upload(request: HttpRequest) -> Upload:
    """The chosen folder (its paths from the page's script; bare names without it) or .zip, within
    the limits before a byte is read."""
    folder, archive = request.FILES.getlist("folder"), request.FILES.get("zip")
    if folder and archive:
        raise SkillError("Choose a folder or a .zip, not both.")
    if not folder and not archive:
        raise SkillError("Choose the skill's folder, or a .zip of it.")
    max_bytes = settings.CHAT_SKILL_MAX_BYTES
    if archive:
        bundle.check_limits(count=1, total=archive.size, max_bytes=max_bytes)
        return Upload(zip_data=archive.read())
    bundle.check_limits(count=len(folder), total=sum(f.size for f in folder), max_bytes=max_bytes)
    paths = request.POST.getlist("paths")
    names = paths if len(paths) == len(folder) else [f.name for f in folder]
    return Upload(files=tuple((name, f.read()) for name, f in zip(names, folder, strict=True)))


@login_required
async def team_skills(request: HttpRequest, team_id: int) -> HttpResponse:
    request.user = user = await request.auser()
    membership = await sync_to_async(_membership)(user, team_id, change=request.method == "POST")
    form = {"title": request.POST.get("title", ""), "note": request.POST.get("note", "")}
    if request.method != "POST":
        return await sync_to_async(_list_page)(request, membership, form)
    try:
        upload = await sync_to_async(_upload)(request)
        skill = await services.skill_create(
            team_id=team_id, user=user, title=form["title"], note=form["note"], upload=upload
        )
    except (SkillError, BundleError) as exc:
        return await sync_to_async(_list_page)(request, membership, form, str(exc), 422)
    return redirect("team_skill", team_id, skill.pk)


@login_required
async def team_skill(request: HttpRequest, team_id: int, skill_pk: int) -> HttpResponse:
    request.user = user = await request.auser()
    membership = await sync_to_async(_membership)(user, team_id, change=request.method == "POST")
    skill = await sync_to_async(_skill)(membership, skill_pk)
    form = {"note": request.POST.get("note", "")}
    if request.method != "POST":
        return await sync_to_async(_skill_page)(request, membership, skill, form)
    try:
        upload = await sync_to_async(_upload)(request)
        await services.skill_version_add(skill=skill, user=user, note=form["note"], upload=upload)
    except (SkillError, BundleError) as exc:
        return await sync_to_async(_skill_page)(request, membership, skill, form, str(exc), 422)
    return redirect("team_skill", team_id, skill.pk)


@login_required
@require_POST
async def team_skill_delete(request: HttpRequest, team_id: int, skill_pk: int) -> HttpResponse:
    request.user = user = await request.auser()
    membership = await sync_to_async(_membership)(user, team_id, change=True)
    skill = await sync_to_async(_skill)(membership, skill_pk)
    try:
        await services.skill_delete(skill=skill)
    except SkillError as exc:
        return await sync_to_async(_skill_page)(request, membership, skill, {"note": ""}, str(exc), 422)
    return redirect("team_skills", team_id)
