"""Kinds of the files a person attaches: an image, and a document (a PDF or a text file). Stored as
a reference to their Attachment; the request sends the file itself (reply/reply_request.py)."""

from conversations.blocks.kind import Kind

FILE = {"attachment_id": int, "name": str}  # an Attachment of the message's owner


def label(block: dict) -> str:
    """What the page, a share and the export call an attached file."""
    if block.get("type") == "image":
        return "Image"
    return "PDF" if block.get("pages") else "Text"


def _markdown(block: dict, sources) -> str:
    return f"*[{label(block)}: {block.get('name', 'file')}]*"


KINDS = (
    Kind("image", FILE, partial="file", label="Image", markdown=_markdown),
    Kind("document", FILE, partial="file", label="Document", markdown=_markdown),
)
