"""The sidebar's views: search, the list's pages, and each item's menu (rename inline, pin,
archive, Undo of a delete). Every view checks ownership (404 for someone else's conversation);
those that change something are POST. The delete itself is views.delete_conversation.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from conversations import forms, selectors, services
from conversations.library import organising, search, sidebar
from conversations.models import Conversation
from conversations.services import ChatError

TEMPLATE = "conversations/_sidebar.html"


def _owned(request: HttpRequest, conversation_id: int) -> Conversation:
    conversation = selectors.conversation_for_user(request.user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _list(request: HttpRequest, **extra) -> HttpResponse:
    """The list's first page (the inside of #conversation-list), as the page first showed it."""
    page = sidebar.page_for(request.user, zone=sidebar.zone_of(request))
    context = {"sidebar_page": page, "current_id": sidebar.current_conversation_id(request), **extra}
    return render(request, f"{TEMPLATE}#list", context)


def _item(request: HttpRequest, conversation: Conversation, template: str = "item", **extra) -> HttpResponse:
    marked = Conversation.objects.filter(pk=conversation.pk).annotate(imported_at=sidebar.imported_at())
    conversation.imported_at = marked.values_list("imported_at", flat=True).first()
    context = {"item": conversation, "current_id": sidebar.current_conversation_id(request), **extra}
    return render(request, f"{TEMPLATE}#{template}", context, status=422 if extra.get("error") else 200)


@login_required
@require_GET
def conversation_search(request: HttpRequest) -> HttpResponse:
    """Results for the sidebar's search box; without JavaScript, a page of its own."""
    query = request.GET.get("q", "")
    context = {"query": query, "results": search.search(request.user, query), "searched": bool(query.strip())}
    if request.htmx:
        return render(request, f"{TEMPLATE}#results", context)
    return render(request, "conversations/search.html", context)


@login_required
@require_GET
def sidebar_list(request: HttpRequest) -> HttpResponse:
    """A page of the list: the first (no cursor), or the one after `cursor`; `view=archived` for
    the archive."""
    cursor = None
    if raw := request.GET.get("cursor"):
        cursor = sidebar.parse_cursor(raw)
        if cursor is None:
            return HttpResponseBadRequest("No such page of the list.", content_type="text/plain")
    page = sidebar.page_for(
        request.user,
        zone=sidebar.zone_of(request),
        cursor=cursor,
        archived=request.GET.get("view") == "archived",
    )
    context = {"sidebar_page": page, "current_id": sidebar.current_conversation_id(request)}
    return render(request, f"{TEMPLATE}#{'rows' if cursor else 'list'}", context)


@login_required
@require_GET
def sidebar_item(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """One item as the list shows it (what Cancel puts back in place of the rename box)."""
    return _item(request, _owned(request, conversation_id))


@login_required
@require_http_methods(["GET", "POST"])
def sidebar_rename(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """GET: the item as a rename box. POST: the new title; the item again, or the box with the
    error (422) and what was typed."""
    conversation = _owned(request, conversation_id)
    if request.method == "GET":
        return _item(request, conversation, "rename", title=conversation.title)
    try:
        _rename(conversation, request.POST)
    except ChatError as exc:
        return _item(request, conversation, "rename", title=request.POST.get("title", ""), error=str(exc))
    return _item(request, conversation, renamed=True)


@login_required
@require_POST
def rename_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The header menu's rename: 422 with the reason, or back to the conversation."""
    conversation = _owned(request, conversation_id)
    try:
        _rename(conversation, request.POST)
    except ChatError as exc:
        return HttpResponse(str(exc), status=422)
    return _go(request, reverse("conversation", args=[conversation.pk]))


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _rename(conversation: Conversation, data) -> None:
    form = forms.RenameForm(data)
    if not form.is_valid():
        raise ChatError(forms.first_error(form))
    services.conversation_rename(conversation=conversation, title=form.cleaned_data["title"])


def _organise_view(change, answer):
    """A POST view that applies `change(conversation)` and answers with `answer(request, conversation)`."""

    @login_required
    @require_POST
    def view(request: HttpRequest, conversation_id: int) -> HttpResponse:
        conversation = _owned(request, conversation_id)
        change(conversation)
        return answer(request, conversation)

    return view


def _refreshed_list(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    return _list(request)


def _removed(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    """Nothing: the item is swapped out of the list it was in."""
    return HttpResponse("")


conversation_pin = _organise_view(
    lambda c: organising.conversation_pin(conversation=c, pinned=True), _refreshed_list
)
conversation_unpin = _organise_view(
    lambda c: organising.conversation_pin(conversation=c, pinned=False), _refreshed_list
)
conversation_archive = _organise_view(
    lambda c: organising.conversation_archive(conversation=c, archived=True), _removed
)
conversation_unarchive = _organise_view(
    lambda c: organising.conversation_archive(conversation=c, archived=False), _removed
)


def after_delete(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    """The answer to a delete (views.delete_conversation). Deleting the conversation on screen
    lands on a new chat, which offers the Undo; elsewhere the item leaves the list and the Undo
    appears at once."""
    here = sidebar.current_conversation_id(request) == conversation.pk
    if here or not request.htmx:
        url = f"{reverse('new_chat')}?deleted={conversation.pk}"
        return _go(request, url)
    return render(request, f"{TEMPLATE}#toast", {"undo": conversation})


@login_required
@require_POST
def conversation_restore(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Undo a delete, within its time. From the new chat a delete landed on, back to the
    conversation; elsewhere, the list with it back in place."""
    conversation = organising.deleted_conversation_for_user(request.user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation, or too late to undo")
    organising.conversation_restore(conversation=conversation)
    url = reverse("conversation", args=[conversation.pk])
    if not request.htmx or request.POST.get("open"):
        return _go(request, url)
    return _list(request, clear_toast=True)
