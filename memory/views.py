"""The Memory page: what the memory tool keeps for you, to read, edit, delete or clear, and the
switch that offers the tool in your chats. Every file is looked up with its owner: another
person's file is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import store
from .models import MemorySetting


def _page(
    request: HttpRequest, *, error: str = "", editing: int | None = None, text: str = ""
) -> HttpResponse:
    files = store.files_of(request.user.pk)
    setting = MemorySetting.objects.filter(user=request.user).first()
    context = {
        "files": files,
        "total": f"{sum(len(f.content) for f in files):,}",
        "limit": f"{store.MAX_TOTAL_CHARS:,}",
        "file_limit": store.MAX_FILE_CHARS,
        "enabled": bool(setting and setting.enabled),
        "available": store.available(),
        "error": error,
        "editing": editing,
        "editing_text": text,
    }
    return render(request, "memory/memory.html", context, status=422 if error else 200)


@login_required
def memory_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def memory_settings(request: HttpRequest) -> HttpResponse:
    store.set_enabled(request.user.pk, request.POST.get("enabled") == "on")
    return redirect("memory")


@login_required
@require_POST
def memory_file(request: HttpRequest, file_id: int) -> HttpResponse:
    text = request.POST.get("content", "").replace("\r\n", "\n")
    try:
        found = store.file_edit(request.user.pk, file_id, text)
    except store.MemoryRefused as exc:
        return _page(request, error=str(exc), editing=file_id, text=text)
    if found is None:
        raise Http404("No such memory file")
    messages.success(request, f"Saved {found.path}.")
    return redirect(f"{reverse('memory')}#file-{file_id}")


@login_required
@require_POST
def memory_file_delete(request: HttpRequest, file_id: int) -> HttpResponse:
    if not store.file_delete(request.user.pk, file_id):
        raise Http404("No such memory file")
    messages.success(request, "File deleted.")
    return redirect("memory")


@login_required
@require_POST
def memory_clear(request: HttpRequest) -> HttpResponse:
    store.clear(request.user.pk)
    messages.success(request, "Memory cleared.")
    return redirect("memory")
