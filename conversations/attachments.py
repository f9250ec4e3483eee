"""Pure: check an uploaded file by its content and turn it into what we store and send.

Never trusts the file name or the browser's type. Images are opened with an allow-list of formats,
refused past a pixel budget (decompression bombs), fully decoded (truncated files fail here), then
re-encoded (which drops EXIF and other metadata) and downscaled so the long edge is at most 1568 px
and the base64 form fits the API's 5 MB per image. PDFs are checked by header and with pypdf.
Plain text (a .txt, .md, .csv, ... name, so an SVG stays refused, and UTF-8 content without control
characters but tab and line breaks) is stored as sent; PDFs and
text files go to the API as documents with citations on (reply_request.py).
"""

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PDF_BYTES = 32 * 1024 * 1024
MAX_PDF_PAGES = 100
MAX_FILES_PER_MESSAGE = 20
MAX_PIXELS = 50_000_000  # about 8000 x 6000; anything larger is refused before decoding
LONG_EDGE = 1568
MAX_BASE64_BYTES = 5 * 1024 * 1024
MAX_ENCODED_BYTES = MAX_BASE64_BYTES * 3 // 4 - 1024

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
PDF = "application/pdf"
TEXT = "text/plain"
MAX_TEXT_BYTES = 1024 * 1024  # about 250,000 tokens: more would not fit a context window anyway
TEXT_EXTENSIONS = (
    ".txt",
    ".text",
    ".md",
    ".markdown",
    ".csv",
    ".tsv",
    ".log",
)  # and the content must be text
ACCEPTED = "JPEG, PNG, GIF, WebP, PDF or plain text"


class Refused(Exception):
    """The file cannot be used; the message says why, naming the file."""


@dataclass(frozen=True)
class Processed:
    media_type: str
    data: bytes
    width: int | None = None
    height: int | None = None
    pages: int | None = None


def stored_fields(name: str, processed: Processed, sha256: str, storage_key: str) -> dict:
    """A StoredFile's fields (an attachment, a knowledge file, a case's file) for `processed`, kept
    under `storage_key`: the name as uploaded, without any folder, never empty."""
    return {
        "name": PurePath(name).name[:255] or "file",
        "media_type": processed.media_type,
        "size": len(processed.data),
        "width": processed.width,
        "height": processed.height,
        "pages": processed.pages,
        "sha256": sha256,
        "storage_key": storage_key,
    }


def process(name: str, data: bytes) -> Processed:
    if data.startswith(b"%PDF-"):
        return _process_pdf(name, data)
    if name.lower().endswith(TEXT_EXTENSIONS) and _is_text(data):
        if len(data) > MAX_TEXT_BYTES:
            raise Refused(f"{name}: text files are limited to {MAX_TEXT_BYTES // 2**20} MB.")
        return Processed(TEXT, data.removeprefix(b"\xef\xbb\xbf"))
    return _process_image(name, data)


def _is_text(data: bytes) -> bool:
    """UTF-8 with no control characters but tab, line feed and carriage return (so no image)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text.strip()) and not any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in text)


def _process_pdf(name: str, data: bytes) -> Processed:
    if len(data) > MAX_PDF_BYTES:
        raise Refused(f"{name}: PDFs are limited to {MAX_PDF_BYTES // 2**20} MB.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Refused(f"{name}: the PDF is encrypted; remove the password and try again.")
        pages = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise Refused(f"{name}: the PDF is damaged and cannot be read.") from exc
    if pages == 0:
        raise Refused(f"{name}: the PDF has no pages.")
    if pages > MAX_PDF_PAGES:
        raise Refused(f"{name}: the PDF has {pages} pages; the limit is {MAX_PDF_PAGES}.")
    return Processed(PDF, data, pages=pages)


def _process_image(name: str, data: bytes) -> Processed:
    if len(data) > MAX_IMAGE_BYTES:
        raise Refused(f"{name}: images are limited to {MAX_IMAGE_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES))
            if image.width * image.height > MAX_PIXELS:
                raise Refused(f"{name}: {image.width}×{image.height} pixels is too large to process.")
            image.load()
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused(f"{name}: the image has too many pixels; it is too large to process.") from exc
    except UnidentifiedImageError as exc:
        raise Refused(f"{name}: not a {ACCEPTED} file.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise Refused(f"{name}: the image is damaged or truncated.") from exc
    return _reencode(image)


def _reencode(image: Image.Image) -> Processed:
    source_format = image.format
    image = ImageOps.exif_transpose(image)  # keep the orientation the EXIF asked for, then drop EXIF
    image.thumbnail((LONG_EDGE, LONG_EDGE), Image.Resampling.LANCZOS)
    target = source_format
    if target == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    data = _encode(image, target)
    if target == "PNG" and image.mode in ("RGB", "L"):
        # A photo saved as PNG: JPEG is often several times smaller, and the model sees no difference.
        as_jpeg = _encode(image, "JPEG")
        if len(as_jpeg) * 2 < len(data):
            target, data = "JPEG", as_jpeg
    while len(data) > MAX_ENCODED_BYTES:
        image = image.resize(
            (max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)), Image.Resampling.LANCZOS
        )
        data = _encode(image, target)
    return Processed(IMAGE_TYPES[target], data, width=image.width, height=image.height)


def _encode(image: Image.Image, format_name: str) -> bytes:
    out = io.BytesIO()
    if format_name == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True)
    elif format_name == "PNG":
        image.save(out, "PNG", optimize=True)
    elif format_name == "WEBP":
        image.save(out, "WEBP", quality=85)
    else:
        image.save(out, format_name)
    return out.getvalue()
