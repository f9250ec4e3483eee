"""The workbench pages of a prompt. Someone who may not see the prompt gets 404 everywhere; members
of its team view; only its editors and owners change cases and start or cancel runs (403 otherwise)."""

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from conversations import serving
from conversations.claude import capabilities, catalog

from . import selectors, services, worker
from .models import Run
from .services import WorkbenchError


def _access(request: HttpRequest, prompt_id: int, *, run: bool = False) -> selectors.Access:
    access = selectors.workbench_access(request.user, prompt_id)
    if access is None:
        raise Http404("No such prompt")
    if run and not access.can_run:
        raise PermissionDenied("Only the team's editors and owners change its test cases and run them.")
    return access


def _models() -> list[dict]:
    return [
        {"id": c.id, "name": c.display_name, "grades": capabilities.capabilities(c.id).structured_outputs}
        for c in catalog.available()
    ]


def _page(
    request: HttpRequest,
    access: selectors.Access,
    *,
    error: str = "",
    form: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    """The workbench page; every refused form renders it again with the reason and what was typed."""
    prompt = access.prompt
    versions = list(prompt.versions.order_by("-number"))
    models = _models() if access.can_run else []
    cases = selectors.cases_of(prompt)
    context = {
        "prompt": prompt,
        "can_run": access.can_run,
        "cases": cases,
        "request_count": 2 * len(cases),
        "suggestions": selectors.suggested_cases(prompt) if access.can_run else [],
        "runs": selectors.runs_of(prompt),
        "versions": versions,
        "models": models,
        "graders": [m for m in models if m["grades"]],
        "max_cases": services.max_cases(),
        "max_files": services.MAX_CASE_FILES,
        "max_mb": services.MAX_CASE_FILE_MB,
        "error": error,
        "form": {
            "version_a": str(versions[1].pk if len(versions) > 1 else versions[0].pk) if versions else "",
            "version_b": str(versions[0].pk) if versions else "",
            "model": catalog.available()[0].id if models else "",
            **(form or {}),
        },
    }
    return render(request, "workbench/workbench.html", context, status=status)


@login_required
def workbench(request: HttpRequest, prompt_id: int) -> HttpResponse:
    return _page(request, _access(request, prompt_id))


def _done(prompt_id: int, anchor: str) -> HttpResponse:
    return redirect(reverse("workbench", args=[prompt_id]) + anchor)


def _uploaded_files(request: HttpRequest) -> list[services.NewFile]:
    """The form's files, checked as a chat's uploads are; WorkbenchError naming one refused."""
    uploads = request.FILES.getlist("files")
    for upload in uploads:
        if upload.size > services.MAX_UPLOAD:
            raise WorkbenchError(f"{upload.name}: files are limited to {services.MAX_UPLOAD // 2**20} MB.")
    return services.files_checked((upload.name or "file", upload.read()) for upload in uploads)


@login_required
@require_POST
def case_add(request: HttpRequest, prompt_id: int) -> HttpResponse:
    access = _access(request, prompt_id, run=True)
    form = {key: request.POST.get(key, "") for key in ("input", "expected", "tags")}
    try:
        services.case_add(
            prompt=access.prompt,
            user=request.user,
            case_input=form["input"],
            expected=form["expected"],
            tags=form["tags"],
            new_files=_uploaded_files(request),
        )
    except WorkbenchError as exc:
        return _page(request, access, error=str(exc), form=form, status=422)
    return _done(prompt_id, "#cases")


@login_required
def case_edit(request: HttpRequest, prompt_id: int, case_id: int) -> HttpResponse:
    access = _access(request, prompt_id, run=request.method == "POST")
    case = selectors.case_of(access.prompt, case_id)
    if case is None:
        raise Http404("No such test case")
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            services.case_delete(case=case)
            return _done(prompt_id, "#cases")
        try:
            services.case_edit(
                case=case,
                case_input=request.POST.get("input", ""),
                expected=request.POST.get("expected", ""),
                tags=request.POST.get("tags", ""),
                new_files=_uploaded_files(request),
                remove_file_ids=[_int(value) for value in request.POST.getlist("remove")],
            )
            return _done(prompt_id, f"#case-{case.pk}")
        except WorkbenchError as exc:
            error = str(exc)
    context = {
        "prompt": access.prompt,
        "case": selectors.case_of(access.prompt, case_id),  # its files as stored
        "can_run": access.can_run,
        "error": error,
        "max_files": services.MAX_CASE_FILES,
        "max_mb": services.MAX_CASE_FILE_MB,
    }
    return render(request, "workbench/case_form.html", context, status=422 if error else 200)


@login_required
def case_file(request: HttpRequest, prompt_id: int, case_id: int, file_id: int) -> HttpResponse:
    """A case's file, to whoever may view the workbench (404 for anyone else)."""
    file = selectors.case_file(_access(request, prompt_id).prompt, case_id, file_id)
    if file is None:
        raise Http404("No such file")
    return serving.attachment_response(file)


@login_required
@require_POST
def cases_import(request: HttpRequest, prompt_id: int) -> HttpResponse:
    access = _access(request, prompt_id, run=True)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise WorkbenchError("Choose a CSV file.")
        if upload.size > services.MAX_CSV_BYTES:
            raise WorkbenchError(f"The file is larger than {services.MAX_CSV_BYTES // 1024} KB.")
        services.cases_import(prompt=access.prompt, user=request.user, data=upload.read())
    except WorkbenchError as exc:
        return _page(request, access, error=f"Import refused: {exc}", status=422)
    return _done(prompt_id, "#cases")


@login_required
@require_POST
def suggestion_take(request: HttpRequest, prompt_id: int, feedback_id: int) -> HttpResponse:
    access = _access(request, prompt_id, run=True)
    try:
        services.case_from_feedback(
            prompt=access.prompt,
            user=request.user,
            feedback_id=feedback_id,
            case_input=request.POST.get("input", ""),
        )
    except WorkbenchError as exc:
        return _page(request, access, error=str(exc), status=422)
    return _done(prompt_id, "#cases")


def _start(request: HttpRequest, user, prompt_id: int) -> tuple[HttpResponse, Run | None]:
    request.user = user
    access = _access(request, prompt_id, run=True)
    post = request.POST
    form = {
        key: post.get(key, "")
        for key in ("version_a", "model_a", "version_b", "model_b", "rubric", "grader_model", "mode")
    }
    try:
        run = services.run_create(
            prompt=access.prompt,
            user=user,
            version_a=_int(form["version_a"]),
            model_a=form["model_a"],
            version_b=_int(form["version_b"]),
            model_b=form["model_b"],
            batch=form["mode"] == "batch",
            rubric=form["rubric"],
            grader_model=form["grader_model"],
        )
    except WorkbenchError as exc:
        return _page(request, access, error=str(exc), form=form, status=422), None
    return redirect("workbench_run", prompt_id, run.pk), run


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


@login_required
@require_POST
async def run_start(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """Create the run, then work it in this process's loop: detached from this request, so closing
    the tab leaves it running."""
    response, run = await sync_to_async(_start)(request, await request.auser(), prompt_id)
    if run is not None:
        worker.start(run.pk)
    return response


@login_required
def run_detail(request: HttpRequest, prompt_id: int, run_id: int) -> HttpResponse:
    access = _access(request, prompt_id)
    run = selectors.run_of(access.prompt, run_id)
    if run is None:
        raise Http404("No such run")
    context = {
        "prompt": access.prompt,
        "run": run,
        "can_run": access.can_run,
        "blind": selectors.blind_tally(run),
        **selectors.run_table(run),
    }
    if request.htmx:
        return render(request, "workbench/run.html#run-body", context)
    return render(request, "workbench/run.html", context)


@login_required
@require_POST
def run_cancel(request: HttpRequest, prompt_id: int, run_id: int) -> HttpResponse:
    access = _access(request, prompt_id, run=True)
    run = selectors.run_of(access.prompt, run_id)
    if run is None:
        raise Http404("No such run")
    services.run_cancel(run=run)
    return redirect("workbench_run", prompt_id, run_id)


@login_required
def run_csv(request: HttpRequest, prompt_id: int, run_id: int) -> HttpResponse:
    access = _access(request, prompt_id)
    run = selectors.run_of(access.prompt, run_id)
    if run is None:
        raise Http404("No such run")
    response = HttpResponse(selectors.run_csv(run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}.csv"'
    return response


@login_required
def run_blind(request: HttpRequest, prompt_id: int, run_id: int) -> HttpResponse:
    """The blind review: each case's two outputs unlabelled, in an order fixed per reviewer; editors
    pick the better one. Members see the tally on the run's page but never vote here (403)."""
    access = _access(request, prompt_id, run=True)
    run = selectors.run_of(access.prompt, run_id)
    if run is None:
        raise Http404("No such run")
    error = ""
    if request.method == "POST":
        position, pick = _int(request.POST.get("position", "")), request.POST.get("pick", "")
        try:
            services.blind_vote(run=run, user=request.user, position=position, pick=pick)
            return redirect(reverse("workbench_run_blind", args=[prompt_id, run_id]) + f"#blind-{position}")
        except WorkbenchError as exc:
            error = str(exc)
    context = {
        "prompt": access.prompt,
        "run": run,
        "cases": [] if run.is_open else selectors.blind_cases(run, request.user),
        "error": error,
    }
    return render(request, "workbench/blind.html", context, status=422 if error else 200)


@login_required
def message_add(request: HttpRequest, message_id: int) -> HttpResponse:
    """ "Add to test set" on one of the user's own messages in a chat: a small form listing the team
    prompts they edit (GET), which adds the message's text and a copy of its files as a case of the
    chosen one (POST). 404 for anyone else's message, a reply, or a prompt they do not edit."""
    chat_input = selectors.own_user_message(request.user, message_id)
    if chat_input is None:
        raise Http404("No such message")
    if request.GET.get("cancel"):
        return HttpResponse("")
    prompts = list(selectors.prompts_to_add_cases_to(request.user))
    context = {"message_id": message_id, "prompts": prompts, "error": "", "added": None, "chat": chat_input}
    if request.method == "POST":
        prompt = next((p for p in prompts if str(p.pk) == request.POST.get("prompt", "")), None)
        if prompt is None:
            raise Http404("No such prompt")
        try:
            context["added"] = services.case_add(
                prompt=prompt,
                user=request.user,
                case_input=chat_input.text,
                new_files=services.files_copied(chat_input.attachments),
            )
        except WorkbenchError as exc:
            context["error"] = str(exc)
        if not request.htmx and context["added"]:
            return _done(prompt.pk, f"#case-{context['added'].pk}")
    return render(
        request, "workbench/_add_to_test_set_form.html", context, status=422 if context["error"] else 200
    )
