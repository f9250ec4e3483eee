"""Pages and htmx partials. Each view checks ownership; someone else's conversation is a 404."""

import hmac
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from conversations import attachments, forms, selectors, sending, services, serving
from conversations.blocks.files import is_link, link_parts
from conversations.budgets import statuses as budget_statuses
from conversations.claude import catalog, params
from conversations.claude.capabilities import capabilities, reads_files
from conversations.library import organising, sharing, sidebar_views
from conversations.live import health, metrics
from conversations.models import Conversation, Message
from conversations.projects import selectors as project_selectors
from conversations.reply import context_window, generation
from conversations.reply import handover as handover_summary
from conversations.services import ChatError
from teams.selectors import prompts_to_choose, teams_for_user


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _composer_error(request: HttpRequest, error: str, conversation: Conversation | None) -> HttpResponse:
    """422 with the error; the htmx swap targets only the error line, so the typed text stays."""
    if request.htmx:
        response = render(request, "conversations/_composer_error.html", {"error": error}, status=422)
        response["HX-Retarget"] = "#composer-error"
        response["HX-Reswap"] = "innerHTML"
        return response
    in_project = {} if conversation else _in_project(request.user, request.POST.get("project", ""))
    text = request.POST.get("text", "")
    context = _page_context(request.user, conversation, error=error, text=text, **in_project)
    context["chosen_prompt"] = request.POST.get("prompt", "")
    template = "conversations/conversation.html" if conversation else "conversations/new.html"
    return render(request, template, context, status=422)


def _page_context(user, conversation: Conversation | None = None, **extra) -> dict:
    """Everything the new-chat and conversation pages show. Every path that renders them (the
    page, a refused send, a settings error) builds its context here, so none shows less."""
    model = conversation.model if conversation else settings.CHAT_DEFAULT_MODEL
    context = {
        "conversation": conversation,
        "models": catalog.available(),
        "default_model": settings.CHAT_DEFAULT_MODEL,
        "prompts": prompts_to_choose(user),
        "max_chars": settings.CHAT_MAX_MESSAGE_CHARS,
        "max_files": attachments.MAX_FILES_PER_MESSAGE,
        "reads_files": reads_files(model),
        "model_name": catalog.display_name(model),
        "budgets": budget_statuses(user, _team_ids(conversation)),
        "efforts": params.EFFORTS,
    }
    if conversation is None:
        context.update(_switches_for_new_chat(user, model, context["models"], context["prompts"]))
        project = extra.get("project")
        teams = None if project else [team.pk for team in teams_for_user(user)]  # chat.js: the prompt's
        context.update(sending.composer_tools(Conversation(model=model, owner=user, project=project), teams))
    else:
        tools = sending.composer_tools(conversation)  # read once: the switches offer what it lists
        context.update(
            messages_list=selectors.chosen_messages(conversation.pk),
            totals=selectors.conversation_totals(conversation),
            newer_prompt=selectors.newer_prompt_version(user, conversation),
            caps=capabilities(conversation.model),
            chosen=params.stored(conversation.params),
            switches=sending.switches_offered(conversation, tools),
            **tools,
            gauge=context_window.gauge(conversation),
            knowledge_gone=project_selectors.knowledge_gone(conversation),
            share_teams=teams_for_user(user),
            shares=sharing.shares_of(conversation),
        )
    return {**context, **extra}


def _switches_for_new_chat(user, model: str, models: list, prompts) -> dict:
    """The new-chat page's switches: those of the chosen model (each model option lists its own),
    less web search on a prompt whose team turned it off; the user's last choice checked."""
    return {
        "model_options": [
            (choice, " ".join(sorted(sending.switches_offered(Conversation(model=choice.id)))))
            for choice in models
        ],
        "switches": sending.switches_offered(Conversation(model=model)),
        "chosen": selectors.tool_defaults(user),
        "teams_without_web": selectors.teams_without_web([p.team_id for p in prompts if p.team_id]),
    }


def _in_project(user, project_id: str) -> dict:
    """The new-chat page's project (its `?project=`, or a refused start's hidden field), when there
    is one; 404 when it is not one the user may chat in."""
    return {"project": sending.project_for_new_chat(user, project_id)} if project_id else {}


def _team_ids(conversation: Conversation | None) -> list[int]:
    version = conversation.prompt_version if conversation else None
    return [version.prompt.team_id] if version and version.prompt.team_id else []


@login_required
def home(request: HttpRequest) -> HttpResponse:
    latest = selectors.conversation_list_for_user(request.user).first()
    return redirect("conversation", latest.pk) if latest else redirect("new_chat")


@login_required
def new_chat(request: HttpRequest) -> HttpResponse:
    in_project = _in_project(request.user, request.GET.get("project", ""))
    context = _page_context(request.user, chosen_prompt=request.GET.get("prompt", ""), **in_project)
    context.update(_handed_over(request))
    return render(request, "conversations/new.html", context)


def _handed_over(request: HttpRequest) -> dict:
    """What Continue in a new chat left in the session for this page (its `?from=`): the summary in
    the message box, the old chat's model and system prompt chosen. Once: a reload starts empty."""
    handed = request.session.get("handover") or {}
    if str(handed.get("from")) != request.GET.get("from"):
        return {}
    del request.session["handover"]
    old = selectors.conversation_for_user(request.user, handed["from"])
    if old is None:
        return {}
    version = old.prompt_version
    prompt = str(version.prompt_id) if version else ""
    return {"text": handed["text"], "default_model": old.model, "chosen_prompt": prompt, "handover_from": old}


@login_required
@require_POST
async def start_chat(request: HttpRequest) -> HttpResponse:
    # All the database work in one hop to a thread, as for a send.
    received = time.perf_counter()
    response, reply = await sync_to_async(_start)(request, await request.auser())
    if reply is not None:
        metrics.send_handled(time.perf_counter() - received, "post")
        generation.start(reply, received_at=received)
    return response


def _start(request: HttpRequest, user) -> tuple[HttpResponse, Message | None]:
    request.user = user
    try:
        command = sending.command_from_post(request.POST, start=True)
        sent = sending.conversation_post(user=user, command=command)
    except ChatError as exc:
        return _composer_error(request, str(exc), None), None
    return _redirect(request, reverse("conversation", args=[sent.conversation.pk])), sent.reply


@login_required
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = selectors.owned_conversation(request.user, conversation_id)
    return render(request, "conversations/conversation.html", _page_context(request.user, conversation))


def _params_from_form(post) -> dict:
    """The Settings popover's parameters (the composer's switches come with a send: sending.py)."""
    data: dict = {name: post.get(name) == "on" for name in ("tools", "context_1m")}
    for name in ("max_tokens", "temperature", "top_p", "top_k"):
        if value := post.get(name, "").strip():
            data[name] = value
    if sequences := [line for line in post.get("stop_sequences", "").splitlines() if line]:
        data["stop_sequences"] = sequences
    return data


@login_required
@require_POST
def conversation_settings(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Model and parameters for the next turns; an invalid combination is a form error."""
    conversation = selectors.owned_conversation(request.user, conversation_id)
    model = request.POST.get("model", conversation.model)
    try:
        if not catalog.is_available(model):
            raise ChatError(f"The model {model} is not available.")
        services.conversation_configure(
            conversation=conversation, model=model, params=_params_from_form(request.POST)
        )
    except ChatError as exc:
        conversation.refresh_from_db()
        context = _page_context(request.user, conversation, settings_error=str(exc))
        return render(request, "conversations/conversation.html", context, status=422)
    return redirect("conversation", conversation.pk)


@login_required
@require_POST
def switch_prompt(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = selectors.owned_conversation(request.user, conversation_id)
    newer = selectors.newer_prompt_version(request.user, conversation)
    if newer is None:
        raise Http404("No newer prompt version available to you")
    services.conversation_switch_prompt(conversation=conversation, version=newer)
    return _redirect(request, reverse("conversation", args=[conversation.pk]))


@login_required
@require_POST
async def handover(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Continue in a new chat: a summary of this one (reply/handover.py), kept in the session for
    the New chat page, which shows it in the message box with the same model and system prompt
    chosen; the person edits it, then sends. A failure is said under the button."""
    user = await request.auser()
    conversation = await sync_to_async(selectors.owned_conversation)(user, conversation_id)
    try:
        summary = await handover_summary.summarize(conversation)
    except ChatError as exc:
        return HttpResponse(escape(str(exc)))  # swapped in under the button: escaped
    await request.session.aset("handover", {"from": conversation.pk, "text": summary})
    return _redirect(request, f"{reverse('new_chat')}?from={conversation.pk}")


@login_required
@require_GET
async def conversation_gauge(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The composer's context gauge, again after a reply or as a draft's files change (their
    `attachment` ids: the user's own, else 404)."""
    user = await request.auser()
    form = forms.MessageForm(request.GET)
    if not form.is_valid():
        raise Http404("No such attachment")
    conversation = await sync_to_async(selectors.owned_conversation)(user, conversation_id)
    files = await sync_to_async(sending.attachments_of)(user, tuple(form.cleaned_data["attachment"]))
    drafted = await context_window.draft_tokens(conversation, files)
    meter = await sync_to_async(context_window.gauge)(conversation, drafted)
    context = {"conversation": conversation, "gauge": meter}
    return await sync_to_async(render)(request, "conversations/_context_gauge.html", context)


@login_required
@require_POST
async def send_message(request: HttpRequest, conversation_id: int) -> HttpResponse:
    # All the database work in one hop to a thread: each hop costs a context switch, and a burst
    # of sends would otherwise keep the event loop waiting for the GIL.
    received = time.perf_counter()
    response, reply = await sync_to_async(_send)(request, await request.auser(), conversation_id)
    if reply is not None:
        metrics.send_handled(time.perf_counter() - received, "post")
        generation.start(reply, received_at=received)  # after rendering: no frame before seq 0
    return response


def _send(request: HttpRequest, user, conversation_id: int) -> tuple[HttpResponse, Message | None]:
    request.user = user
    try:
        command = sending.command_from_post(request.POST)
        sent = sending.message_post(user=user, conversation_id=conversation_id, command=command)
    except ChatError as exc:
        conversation = selectors.owned_conversation(user, conversation_id)
        return _composer_error(request, str(exc), conversation), None
    if not request.htmx:
        return redirect("conversation", conversation_id), sent.reply
    response = HttpResponse(sent.html)
    response["HX-Trigger"] = "chat:sent"
    return response, sent.reply


async def _rerun(request: HttpRequest, message_id: int, change) -> HttpResponse:
    """Retry, Continue, Regenerate or Edit: `change(message)` returns the reply that streams next,
    and `_answer` how the page shows it. The database work is one hop to a thread."""
    response, reply = await sync_to_async(_change)(request, await request.auser(), message_id, change)
    if reply is not None:
        generation.start(reply)
    return response


def _change(request: HttpRequest, user, message_id: int, change) -> tuple[HttpResponse, Message | None]:
    message = selectors.message_for_user(user, message_id)
    if message is None:
        raise Http404("No such message")
    try:
        reply = change(message)
    except ChatError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain"), None
    if not request.htmx:
        return redirect("conversation", message.conversation_id), reply
    if reply.pk != message.pk:
        # Regenerate and Edit: a new branch; the list shows it, its new reply streaming.
        return _message_list(request, message.conversation_id, fresh_id=reply.pk), reply
    # Retry and Continue: the reply streams again in place of its old element.
    blocks = list(reply.blocks.order_by("index"))
    context = {"message": selectors.with_versions(reply), "blocks": blocks, "fresh": True}
    return render(request, "conversations/_message.html", context), reply


def _message_list(request: HttpRequest, conversation_id: int, **extra) -> HttpResponse:
    """The conversation's messages (the inside of #messages), along its chosen branch; `fresh_id`
    is a reply about to stream, which the page follows from its first frame."""
    context = {"messages_list": selectors.chosen_messages(conversation_id), **extra}
    return render(request, "conversations/conversation.html#message-list", context)


def _rerun_view(service):
    """A POST view that runs `service(reply=message)` on one of the user's replies."""

    @login_required
    @require_POST
    async def view(request: HttpRequest, message_id: int) -> HttpResponse:
        return await _rerun(request, message_id, lambda message: service(reply=message))

    return view


retry_reply = _rerun_view(services.reply_retry)
continue_reply = _rerun_view(services.reply_continue)
regenerate_reply = _rerun_view(services.reply_regenerate)


@login_required
@require_POST
def choose_version(request: HttpRequest, message_id: int) -> HttpResponse:
    """Show this version of its turn (a switcher's Previous or Next): the list from the new branch."""
    message = selectors.message_for_user(request.user, message_id)
    if message is None:
        raise Http404("No such message")
    services.version_choose(message=message)
    if not request.htmx:
        return redirect("conversation", message.conversation_id)
    return _message_list(request, message.conversation_id)


@login_required
@require_GET
def edit_form(request: HttpRequest, message_id: int) -> HttpResponse:
    """The edit box for one of the user's messages, with its text; its files go with the edit."""
    message = selectors.message_for_user(request.user, message_id)
    if message is None or message.role != Message.Role.USER:
        raise Http404("No such message")
    blocks = list(message.blocks.all())
    context = {
        "message": message,
        "text": "\n\n".join(b.payload["text"] for b in blocks if b.type == "text"),
        "files": [
            b.payload["name"] if "attachment_id" in b.payload else link_parts(b.payload["source"]["url"]).name
            for b in blocks
            if "attachment_id" in b.payload or is_link(b.payload)
        ],
    }
    return render(request, "conversations/_edit_form.html", context)


@login_required
@require_POST
async def edit_message(request: HttpRequest, message_id: int) -> HttpResponse:
    form = forms.EditForm(request.POST)
    if not form.is_valid():
        return HttpResponse(forms.first_error(form), status=422, content_type="text/plain")
    text = form.cleaned_data["text"]
    return await _rerun(
        request, message_id, lambda message: services.message_edit(message=message, text=text)[1]
    )


@login_required
@require_POST
async def delete_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Stop its reply if one streams, then delete it with an Undo (organising.py)."""
    user = await request.auser()
    conversation = await sync_to_async(selectors.owned_conversation)(user, conversation_id)
    streaming = await sync_to_async(list)(
        conversation.messages.filter(status=Message.Status.STREAMING).values_list("pk", flat=True)
    )
    await generation.stop_and_wait(streaming)
    return await sync_to_async(_trash)(request, user, conversation)


def _trash(request: HttpRequest, user, conversation: Conversation) -> HttpResponse:
    request.user = user
    organising.deleted_conversations_purge()  # the ones whose Undo has expired, anyone's
    organising.conversation_trash(conversation=conversation)
    return sidebar_views.after_delete(request, conversation)


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
    return serving.attachment_response(attachment)


@login_required
async def produced_file(request: HttpRequest, conversation_id: int, file_id: str) -> HttpResponse:
    """A file code execution made in one of the user's conversations, fetched from the Files API."""
    user = await request.auser()
    produced = await sync_to_async(selectors.produced_file_for_owner)(user, conversation_id, file_id)
    if produced is None:
        raise Http404("No such file")
    return await serving.produced_file_response(produced)


def metrics_page(request: HttpRequest) -> HttpResponse:
    """This process's Prometheus metrics, for staff or a scraper with CHAT_METRICS_TOKEN."""
    token = settings.CHAT_METRICS_TOKEN
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    # As bytes: compare_digest raises TypeError on str with non-ASCII characters (any header can carry them).
    if not (request.user.is_staff or (token and hmac.compare_digest(bearer.encode(), token.encode()))):
        raise Http404("No such page")
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)


async def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers: 200 when the database and the channel layer answer, else 503."""
    problems = await health.problems()
    return HttpResponse(
        "\n".join(problems) or "ok", status=503 if problems else 200, content_type="text/plain"
    )
