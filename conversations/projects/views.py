"""Project pages: the list, New project, a project's page (its files, its chats, its cache
figures), its instructions' editor, and its knowledge files. Anyone who may not open a project
gets 404 on every URL of it; members who may not change it get 403 for a change."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from conversations import attachments, serving
from conversations.projects import knowledge, retrieval, selectors, services
from conversations.projects.selectors import Access
from conversations.projects.services import ProjectError
from teams.selectors import teams_user_can_publish_to

# The largest single upload attachments.process may accept; bigger ones are refused unread.
MAX_UPLOAD = max(attachments.MAX_IMAGE_BYTES, attachments.MAX_PDF_BYTES)


def _access(user, project_id: int, *, edit: bool = False) -> Access:
    access = selectors.project_access(user.pk, project_id)
    if access is None:
        raise Http404("No such project")
    if edit and not access.can_edit:
        raise PermissionDenied("Only the team's owners and editors change its projects.")
    return access


def _project_page(request: HttpRequest, access: Access, error: str = "", status: int = 200) -> HttpResponse:
    """The project's page; every path that renders it (the page, a refused upload) builds it here."""
    project = access.project
    files = selectors.project_files(project)
    spending = selectors.project_spending(project)
    context = {
        "project": project,
        "can_edit": access.can_edit,
        "can_delete": access.can_delete,
        "instructions": project.instructions.latest,
        "files": files,
        "total_size": sum(f.size for f in files),
        "total_tokens": sum(f.token_count or 0 for f in files),
        "searched": retrieval.searched(f.token_count for f in files),  # the rule requests follow
        "conversations": selectors.project_conversations(request.user, project),
        "spending": spending,
        # The first writes cost more than plain input: say so rather than show a negative saving.
        "saved_more": -spending["saved"] if spending["saved"] is not None and spending["saved"] < 0 else None,
        "max_files": settings.CHAT_PROJECT_MAX_FILES,
        "max_mb": settings.CHAT_PROJECT_MAX_MB,
        "error": error,
    }
    return render(request, "conversations/projects/project_detail.html", context, status=status)


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = selectors.projects_for_user(request.user)
    return render(request, "conversations/projects/project_list.html", {"projects": projects})


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    form = {"name": "", "instructions": "", "team": ""}
    teams = teams_user_can_publish_to(request.user)  # a team's owners and editors make its projects
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        team = None
        if form["team"]:
            digits = form["team"].isascii() and form["team"].isdecimal() and len(form["team"]) <= 18
            team = teams.filter(pk=int(form["team"])).first() if digits else None
            if team is None:
                raise Http404("No such team")
        try:
            project = services.project_create(
                user=request.user, name=form["name"], instructions=form["instructions"], team=team
            )
            return redirect("project_detail", project.pk)
        except ProjectError as exc:
            context = {"form": form, "teams": teams, "error": str(exc)}
            return render(request, "conversations/projects/project_form.html", context, status=422)
    return render(request, "conversations/projects/project_form.html", {"form": form, "teams": teams})


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    return _project_page(request, _access(request.user, project_id))


@login_required
def project_instructions(request: HttpRequest, project_id: int) -> HttpResponse:
    access = _access(request.user, project_id, edit=True)
    text = access.project.instructions.latest.text
    if request.method == "POST":
        text = request.POST.get("instructions", "")
        try:
            services.project_instructions_edit(user=request.user, project=access.project, instructions=text)
            return redirect("project_detail", project_id)
        except ProjectError as exc:
            context = {"project": access.project, "text": text, "error": str(exc)}
            return render(request, "conversations/projects/instructions_form.html", context, status=422)
    context = {"project": access.project, "text": text}
    return render(request, "conversations/projects/instructions_form.html", context)


@login_required
@require_POST
async def project_files_add(request: HttpRequest, project_id: int) -> HttpResponse:
    """Add the chosen files (each checked as a chat's upload is), then count each new one's tokens
    once (count_tokens); a refused file is named with its reason and the others are kept."""
    user = await request.auser()
    access = await sync_to_async(_access)(user, project_id, edit=True)
    added, errors = await sync_to_async(_store_files)(request, user, access)
    for file in added:
        tokens = await knowledge.file_tokens(file, settings.CHAT_DEFAULT_MODEL)
        await sync_to_async(services.project_file_token_count_set)(file_id=file.pk, token_count=tokens)
    if errors:
        request.user = user
        return await sync_to_async(_project_page)(request, access, " ".join(errors), 422)
    return redirect("project_detail", project_id)


def _store_files(request: HttpRequest, user, access: Access) -> tuple[list, list[str]]:
    uploads = request.FILES.getlist("files")
    if not uploads:
        return [], ["Choose the files to add."]
    added, errors = [], []
    for upload in uploads:
        name = upload.name or "file"
        if upload.size > MAX_UPLOAD:
            errors.append(f"{name}: files are limited to {MAX_UPLOAD // 2**20} MB.")
            continue
        try:
            file, new = services.project_file_add(
                user=user, project=access.project, name=name, data=upload.read()
            )
        except attachments.Refused as exc:
            errors.append(str(exc))
            continue
        if new:
            added.append(file)
    return added, errors


@login_required
def project_file(request: HttpRequest, project_id: int, file_id: int) -> HttpResponse:
    access = _access(request.user, project_id)
    file = access.project.files.filter(pk=file_id).first()
    if file is None:
        raise Http404("No such file")
    return serving.attachment_response(file)


@login_required
@require_POST
def project_delete(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's owners only (403 for its other members); its chats stay (services.project_delete)."""
    access = _access(request.user, project_id)
    if not access.can_delete:
        raise PermissionDenied("Only the team's owners delete its projects.")
    services.project_delete(project=access.project)
    return redirect("project_list")


@login_required
@require_POST
def project_file_delete(request: HttpRequest, project_id: int, file_id: int) -> HttpResponse:
    access = _access(request.user, project_id, edit=True)
    if not services.project_file_delete(project=access.project, file_id=file_id):
        raise Http404("No such file")
    return redirect("project_detail", project_id)
