"""Sends a stored attachment's bytes: the one response for its owner's view and for staff review."""

from pathlib import Path

from django.conf import settings
from django.http import FileResponse

from .models import Attachment

OWNER_CACHE = "private, max-age=86400"


def attachment_response(attachment: Attachment, *, cache_control: str = OWNER_CACHE) -> FileResponse:
    """Images inline, PDFs as downloads; never sniffed by the browser as another type."""
    path = Path(settings.MEDIA_ROOT) / attachment.storage_key
    response = FileResponse(
        path.open("rb"),
        content_type=attachment.media_type,
        as_attachment=not attachment.is_image,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = cache_control
    return response
