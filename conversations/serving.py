"""Sends a stored attachment's bytes: the one response for its owner's view and for staff review."""

from pathlib import Path

from django.conf import settings
from django.http import FileResponse

from .models import Attachment

OWNER_CACHE = "private, max-age=86400"


def attachment_response(attachment: Attachment, *, cache_control: str = OWNER_CACHE) -> FileResponse:
    """Images, PDFs (so a citation opens one at its page, #page=N) and plain text inline; never
    sniffed by the browser as another type."""
    path = Path(settings.MEDIA_ROOT) / attachment.storage_key
    text = attachment.media_type == "text/plain"
    response = FileResponse(
        path.open("rb"),
        content_type="text/plain; charset=utf-8" if text else attachment.media_type,
        as_attachment=False,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = cache_control
    return response
