"""Sends a file's bytes: a stored attachment, or a file code execution made (from the Files API);
the one response for its owner's view and for staff review."""

import logging

from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header

from conversations import storage
from conversations.claude import llm
from conversations.models import Attachment, ProducedFile

log = logging.getLogger(__name__)

OWNER_CACHE = "private, max-age=86400"


def attachment_response(attachment: Attachment, *, cache_control: str = OWNER_CACHE) -> FileResponse:
    """Images, PDFs (so a citation opens one at its page, #page=N) and plain text inline; never
    sniffed by the browser as another type."""
    text = attachment.media_type == "text/plain"
    response = FileResponse(
        storage.open_stream(attachment.storage_key),
        content_type="text/plain; charset=utf-8" if text else attachment.media_type,
        as_attachment=False,
        filename=attachment.name,
    )
    response["Content-Length"] = attachment.size  # a bucket's stream does not tell
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = cache_control
    return response


# Shown in the code result (an <img>); anything else a program made is only ever downloaded.
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def produced_file_response(produced: ProducedFile, *, cache_control: str = OWNER_CACHE) -> HttpResponse:
    """A file code execution made, fetched from the Files API: raster images inline, everything else
    (HTML and SVG included) as a download of type application/octet-stream, never sniffed."""
    try:
        data = await llm.download_file(produced.file_id)
    except llm.FILE_ERRORS as exc:
        error, request_id = llm.describe_error(exc)
        log.warning("downloading file %s failed: %s (request %s)", produced.file_id, error, request_id)
        return HttpResponse(
            f"{produced.filename} could not be fetched from the Files API: {error}. Try again later.",
            status=502,
            content_type="text/plain; charset=utf-8",
        )
    inline = produced.mime_type in INLINE_IMAGES
    response = HttpResponse(data, content_type=produced.mime_type if inline else "application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(not inline, produced.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = cache_control
    return response
