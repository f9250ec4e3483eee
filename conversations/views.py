"""Pages and htmx partials. Each view checks ownership; someone else's conversation is a 404."""

from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from teams.selectors import prompts_usable_by
from usage.budgets import statuses as budget_statuses

from . import attachments, catalog, generation, health, params, selectors, services
from .capabilities import capabilities, reads_files
from .models import Conversation, Message
from .services import ChatError


def _owned_conversation(user, conversation_id: int) -> Conversation:
    conversation = selectors.conversation_for_user(user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _composer_error(request: HttpRequest, error: str, template: str, context: dict) -> HttpResponse:
    """422 with the error; the htmx swap targets only the error line, so the typed text stays."""
    context = {**context, "error": error, "text": request.POST.get("text", "")}
    response = render(request, template, context, status=422)
    if request.htmx:
        response = render(request, "conversations/_composer_error.html", {"error": error}, status=422)
        response["HX-Retarget"] = "#composer-error"
        response["HX-Reswap"] = "innerHTML"
    return response


def _page_context(user, conversation: Conversation | None = None) -> dict:
    return {
        "conversations": selectors.conversation_list_for_user(user),
        "conversation": conversation,
        "models": catalog.available(),
        "default_model": settings.CHAT_DEFAULT_MODEL,
        "prompts": prompts_usable_by(user),
        "max_chars": settings.CHAT_MAX_MESSAGE_CHARS,
        "max_files": attachments.MAX_FILES_PER_MESSAGE,
        "reads_files": reads_files(conversation.model if conversation else settings.CHAT_DEFAULT_MODEL),
        "budgets": budget_statuses(user, _team_ids(conversation)),
    }


def _team_ids(conversation: Conversation | None) -> list[int]:
    version = conversation.prompt_version if conversation else None
    return [version.prompt.team_id] if version and version.prompt.team_id else []


def _attachments(user, request: HttpRequest) -> list:
    """The attachments the form names; 404 if any is not the user's (forged ids included)."""
    found = selectors.attachments_for_user(user, request.POST.getlist("attachment"))
    if found is None:
        raise Http404("No such attachment")
    return found


def _chosen_prompt_version(user, prompt_id: str):
    """The latest version of a prompt the user may use; ChatError for anything else."""
    if not prompt_id:
        return None
    prompt = prompts_usable_by(user).filter(pk=prompt_id).first() if prompt_id.isdigit() else None
    if prompt is None:
        raise ChatError("That system prompt is not available to you.")
    return prompt.latest


@login_required
def home(request: HttpRequest) -> HttpResponse:
    latest = selectors.conversation_list_for_user(request.user).first()
    return redirect("conversation", latest.pk) if latest else redirect("new_chat")


@login_required
def new_chat(request: HttpRequest) -> HttpResponse:
    context = _page_context(request.user)
    context["chosen_prompt"] = request.GET.get("prompt", "")
    return render(request, "conversations/new.html", context)


@login_required
@require_POST
async def start_chat(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    model = request.POST.get("model") or settings.CHAT_DEFAULT_MODEL
    if not await sync_to_async(catalog.is_available)(model):
        model = settings.CHAT_DEFAULT_MODEL
    files = await sync_to_async(_attachments)(user, request)
    try:
        version = await sync_to_async(_chosen_prompt_version)(user, request.POST.get("prompt", ""))
        conversation, reply = await sync_to_async(services.conversation_start)(
            user=user,
            text=request.POST.get("text", ""),
            model=model,
            prompt_version=version,
            attachments=files,
        )
    except ChatError as exc:
        context = await sync_to_async(_page_context)(user)
        context["chosen_prompt"] = request.POST.get("prompt", "")
        return await sync_to_async(_composer_error)(request, str(exc), "conversations/new.html", context)
    generation.start(reply.pk)
    return _redirect(request, reverse("conversation", args=[conversation.pk]))


@login_required
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _owned_conversation(request.user, conversation_id)
    context = _page_context(request.user, conversation)
    context["messages_list"] = selectors.messages_marking_latest(conversation)
    context["totals"] = selectors.conversation_totals(conversation)
    context["newer_prompt"] = selectors.newer_prompt_version(request.user, conversation)
    context.update(_settings_context(conversation))
    return render(request, "conversations/conversation.html", context)


def _settings_context(conversation: Conversation) -> dict:
    return {
        "caps": capabilities(conversation.model),
        "chosen": params.stored(conversation.params),
        "efforts": ["low", "medium", "high", "max"],
    }


def _params_from_form(post) -> dict:
    data: dict = {"thinking": post.get("thinking") == "on", "tools": post.get("tools") == "on"}
    for name in ("max_tokens", "temperature", "top_p", "top_k", "effort"):
        if value := post.get(name, "").strip():
            data[name] = value
    if sequences := [line for line in post.get("stop_sequences", "").splitlines() if line]:
        data["stop_sequences"] = sequences
    return data


@login_required
@require_POST
def conversation_settings(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Model and parameters for the next turns; an invalid combination is a form error."""
    conversation = _owned_conversation(request.user, conversation_id)
    model = request.POST.get("model", conversation.model)
    try:
        if not catalog.is_available(model):
            raise ChatError(f"The model {model} is not available.")
        services.conversation_configure(
            conversation=conversation, model=model, params=_params_from_form(request.POST)
        )
    except ChatError as exc:
        conversation.refresh_from_db()
        context = _page_context(request.user, conversation)
        context.update(_settings_context(conversation))
        context["messages_list"] = selectors.messages_with_blocks(conversation)
        context["settings_error"] = str(exc)
        return render(request, "conversations/conversation.html", context, status=422)
    return redirect("conversation", conversation.pk)


@login_required
@require_POST
def switch_prompt(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _owned_conversation(request.user, conversation_id)
    newer = selectors.newer_prompt_version(request.user, conversation)
    if newer is None:
        raise Http404("No newer prompt version available to you")
    services.conversation_switch_prompt(conversation=conversation, version=newer)
    return _redirect(request, reverse("conversation", args=[conversation.pk]))


@login_required
@require_POST
async def send_message(request: HttpRequest, conversation_id: int) -> HttpResponse:
    user = await request.auser()
    # All the database work in one hop to a thread: each hop costs a context switch, and a burst
    # of sends would otherwise keep the event loop waiting for the GIL.
    response, reply_id = await sync_to_async(_send)(request, user, conversation_id)
    if reply_id is not None:
        generation.start(reply_id)  # after rendering: its first frame must not precede seq 0
    return response


def _send(request: HttpRequest, user, conversation_id: int) -> tuple[HttpResponse, int | None]:
    conversation = _owned_conversation(user, conversation_id)
    files = _attachments(user, request)
    try:
        user_message, reply = services.message_send(
            conversation=conversation, text=request.POST.get("text", ""), attachments=files
        )
    except ChatError as exc:
        context = _page_context(user, conversation)
        context["messages_list"] = list(selectors.messages_with_blocks(conversation))
        return _composer_error(request, str(exc), "conversations/conversation.html", context), None
    if not request.htmx:
        return redirect("conversation", conversation.pk), reply.pk
    turn = [(user_message, user_message.blocks.all()), (reply, [])]
    response = render(request, "conversations/_turn.html", {"turn": turn})
    response["HX-Trigger"] = "chat:sent"
    return response, reply.pk


async def _rerun(request: HttpRequest, message_id: int, service) -> HttpResponse:
    """Retry or Continue: the reply streams again in place of its old element."""
    user = await request.auser()
    message = await sync_to_async(selectors.message_for_user)(user, message_id)
    if message is None:
        raise Http404("No such message")
    try:
        reply = await sync_to_async(service)(reply=message)
    except ChatError as exc:
        return HttpResponse(str(exc), status=409)
    if not request.htmx:
        generation.start(reply.pk)
        return redirect("conversation", reply.conversation_id)
    blocks = await sync_to_async(list)(reply.blocks.order_by("index"))
    response = await sync_to_async(render)(
        request, "conversations/_message.html", {"message": reply, "blocks": blocks, "fresh": True}
    )
    generation.start(reply.pk)
    return response


@login_required
@require_POST
async def retry_reply(request: HttpRequest, message_id: int) -> HttpResponse:
    return await _rerun(request, message_id, services.reply_retry)


@login_required
@require_POST
async def continue_reply(request: HttpRequest, message_id: int) -> HttpResponse:
    return await _rerun(request, message_id, services.reply_continue)


async def _replace(request: HttpRequest, message_id: int, change) -> HttpResponse:
    """Regenerate or edit: the page reloads, showing the old version folded and the new reply streaming."""
    user = await request.auser()
    message = await sync_to_async(selectors.message_for_user)(user, message_id)
    if message is None:
        raise Http404("No such message")
    try:
        reply = await sync_to_async(change)(message)
    except ChatError as exc:
        return HttpResponse(str(exc), status=409)
    generation.start(reply.pk)
    return _redirect(request, reverse("conversation", args=[message.conversation_id]))


@login_required
@require_POST
async def regenerate_reply(request: HttpRequest, message_id: int) -> HttpResponse:
    return await _replace(request, message_id, lambda message: services.reply_regenerate(reply=message))


@login_required
@require_POST
async def edit_message(request: HttpRequest, message_id: int) -> HttpResponse:
    text = request.POST.get("text", "")
    return await _replace(
        request, message_id, lambda message: services.message_edit(message=message, text=text)[1]
    )


@login_required
@require_POST
def rename_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _owned_conversation(request.user, conversation_id)
    try:
        services.conversation_rename(conversation=conversation, title=request.POST.get("title", ""))
    except ChatError as exc:
        return HttpResponse(str(exc), status=422)
    return _redirect(request, reverse("conversation", args=[conversation.pk]))


@login_required
@require_POST
async def delete_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    user = await request.auser()
    conversation = await sync_to_async(_owned_conversation)(user, conversation_id)
    streaming = await sync_to_async(list)(
        conversation.messages.filter(status=Message.Status.STREAMING).values_list("pk", flat=True)
    )
    await generation.stop_and_wait(streaming)
    await sync_to_async(services.conversation_delete)(conversation=conversation)
    return _redirect(request, reverse("home"))


@login_required
@require_POST
def upload_attachment(request: HttpRequest) -> HttpResponse:
    """One file per request (the composer uploads as soon as a file is attached). JSON either way."""
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": "No file was sent."}, status=400)
    name = upload.name or "file"
    limit = max(attachments.MAX_IMAGE_BYTES, attachments.MAX_PDF_BYTES)
    if upload.size > limit:
        return JsonResponse({"error": f"{name}: files are limited to {limit // 2**20} MB."}, status=422)
    try:
        stored = services.attachment_store(user=request.user, name=name, data=upload.read())
    except attachments.Refused as exc:
        return JsonResponse({"error": str(exc)}, status=422)
    return JsonResponse(
        {
            "id": stored.pk,
            "name": stored.name,
            "media_type": stored.media_type,
            "width": stored.width,
            "height": stored.height,
            "pages": stored.pages,
            "size": stored.size,
            "url": reverse("attachment_file", args=[stored.pk]),
        }
    )


@login_required
def attachment_file(request: HttpRequest, attachment_id: int) -> HttpResponse:
    attachment = selectors.attachment_for_viewer(request.user, attachment_id)
    if attachment is None:
        raise Http404("No such attachment")
    path = Path(settings.MEDIA_ROOT) / attachment.storage_key
    response = FileResponse(
        path.open("rb"),
        content_type=attachment.media_type,
        as_attachment=not attachment.is_image,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response


async def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers: 200 when the database and the channel layer answer, else 503."""
    problems = await health.problems()
    return HttpResponse(
        "\n".join(problems) or "ok", status=503 if problems else 200, content_type="text/plain"
    )


def signup(request: HttpRequest) -> HttpResponse:
    if not settings.CHAT_ALLOW_SIGNUP:
        raise Http404("Sign-up is turned off on this instance")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
