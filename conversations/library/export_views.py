"""Export and import: a conversation as Markdown or JSON, all of a user's data as a zip, and a
JSON export back in as a new conversation. Someone else's conversation is a 404."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods

from conversations import selectors
from conversations.library import exporting

IMPORT_PAGE = "conversations/data.html"


def _download(body: str | bytes, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def export_json(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = selectors.listed_conversation(request.user, conversation_id)
    body = exporting.as_json(exporting.conversation_data(conversation, feedback=True))
    return _download(body, exporting.filename(conversation, "json"), "application/json; charset=utf-8")


@login_required
@require_GET
def export_markdown(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = selectors.listed_conversation(request.user, conversation_id)
    body = exporting.as_markdown(exporting.conversation_data(conversation))
    return _download(body, exporting.filename(conversation, "md"), "text/markdown; charset=utf-8")


@login_required
@require_GET
def export_all(request: HttpRequest) -> HttpResponse:
    """ "Download all my data": every conversation as JSON and Markdown, and the files, in a zip."""
    name = f"chat-data-{slugify(request.user.get_username()) or 'me'}-{timezone.now():%Y-%m-%d}.zip"
    response = FileResponse(exporting.user_zip(request.user), as_attachment=True, filename=name)
    response["Content-Type"] = "application/zip"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def import_conversation(request: HttpRequest) -> HttpResponse:
    """GET: the page (import, and download all). POST: the file; the new conversation, or the page
    again with the reason it was refused (422)."""
    if request.method == "GET":
        return render(request, IMPORT_PAGE, {})
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise exporting.Refused("Choose a JSON file exported from a conversation.")
        if upload.size > exporting.MAX_IMPORT_BYTES:
            limit = exporting.MAX_IMPORT_BYTES // 2**20
            raise exporting.Refused(f"The file is over {limit} MB, the limit for an import.")
        data = exporting.parse(upload.read())
    except exporting.Refused as exc:
        return render(request, IMPORT_PAGE, {"import_error": str(exc)}, status=422)
    conversation = exporting.conversation_import(user=request.user, data=data)
    return redirect("conversation", conversation.pk)
