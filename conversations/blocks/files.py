"""Kinds of the files a person attaches: an image, and a document (a PDF or a text file). Stored as
a reference to their Attachment; the request sends the file itself (reply/reply_request.py).

An image or a PDF can also be attached by its link: stored as the API's own block with a `url`
source, sent as it is (the API fetches it; this server never requests it) and so replayed
byte-identical in later turns."""

from dataclasses import dataclass
from posixpath import basename
from urllib.parse import unquote, urlsplit

from conversations.blocks.kind import Kind, md_url

FILE = {"attachment_id": int, "name": str}  # an Attachment of the message's owner
LINK = {"source": dict}  # {"type": "url", "url": an http(s) link (link_problem)}
MAX_LINK_CHARS = 2000
TITLE_CHARS = 200  # a linked PDF's title (its file name), as its citations name it
PDF_ENDINGS = (".pdf",)
IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def label(block: dict) -> str:
    """What the page, a share and the export call an attached file."""
    if is_link(block):
        return "PDF link" if block.get("type") == "document" else "Image link"
    if block.get("type") == "image":
        return "Image"
    return "PDF" if block.get("pages") else "Text"


def _markdown(block: dict, sources) -> str:
    if is_link(block):
        return f"*[{label(block)}: {md_url(block['source'].get('url'))}]*"
    return f"*[{label(block)}: {block.get('name', 'file')}]*"


# --- links -----------------------------------------------------------------------------------


def is_link(block: dict) -> bool:
    """An image or document block whose source is a URL (the API fetches it)."""
    source = block.get("source")
    return isinstance(source, dict) and source.get("type") == "url"


def link_problem(url) -> str | None:
    """Why `url` cannot be attached, in words for the composer; None when it can: http(s) with a
    host, at most MAX_LINK_CHARS, no spaces or control characters. Only its shape is checked:
    this server never requests it."""
    if not isinstance(url, str) or not url:
        return "A link to attach is empty."
    if len(url) > MAX_LINK_CHARS:
        return f"The link is {len(url):,} characters long; a link can be at most {MAX_LINK_CHARS:,}."
    if any(c.isspace() or ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in url):
        return "A link cannot contain spaces or control characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return "That link is not a valid URL."
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f"{parts.scheme}: links" if parts.scheme else "links without http(s)://"
        return f"Only http:// and https:// links can be attached, not {scheme[:40]}."
    if not parts.hostname:
        return "That link has no host name."
    return None


def link_kind(url: str) -> str:
    """A link ending in .pdf is a document; anything else (.png, .jpg, .jpeg, .gif, .webp, or no
    known ending) is sent as an image: the composer offers Attach from link only for those endings,
    and for another the API says what it found (its refusal shows on the reply, with Retry)."""
    return "document" if urlsplit(url).path.lower().endswith(PDF_ENDINGS) else "image"


def link_block(url: str, kind: str | None = None) -> dict:
    """The block as stored and as sent (a checked `url`, see link_problem): an image, or a PDF
    with its file name as title and citations on, as attached PDFs are sent."""
    kind = kind or link_kind(url)
    block = {"type": kind, "source": {"type": "url", "url": url}}
    if kind == "document":
        block |= {"title": link_parts(url).name[:TITLE_CHARS], "citations": {"enabled": True}}
    return block


@dataclass(frozen=True)
class LinkParts:
    host: str
    name: str  # the file name, decoded ("" for none)


def link_parts(url) -> LinkParts:
    """The host and file name a linked file is shown by."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
    except ValueError:
        return LinkParts("", str(url))
    return LinkParts(host, unquote(basename(parts.path)))


KINDS = (
    Kind("image", LINK, partial="link", label="Image link", markdown=_markdown, matches=is_link),
    Kind("document", LINK, partial="link", label="PDF link", markdown=_markdown, matches=is_link),
    Kind("image", FILE, partial="file", label="Image", markdown=_markdown),
    Kind("document", FILE, partial="file", label="Document", markdown=_markdown),
)
