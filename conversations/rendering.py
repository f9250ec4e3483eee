"""Markdown -> safe HTML (markdown-it-py with raw HTML off, Pygments for code, nh3 to sanitize), and
blocks and messages -> the HTML the page shows, from one template each, wherever they are shown
(the page, the live stream, a staff transcript).

Remote images are never loaded: an image in markdown becomes a plain link.
"""

from html import escape

import nh3
from django.template.loader import render_to_string
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# The version of what this module makes, stored with every block's HTML (ContentBlock.rendered_version).
# Bump it when a change here (markdown-it's options, the allow-list, highlighting, LiveMarkdown's
# cuts) changes the HTML; `manage.py rerender` then renders the stored HTML made before again.
RENDERER_VERSION = 1

_formatter = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang.strip()) if lang.strip() else None
    except ClassNotFound:
        lexer = None
    return highlight(code, lexer, _formatter) if lexer else ""


def _image_as_link(_renderer, tokens, idx, options, env) -> str:
    token = tokens[idx]
    src = escape(token.attrGet("src") or "")
    alt = escape(token.content or src)
    return f'<a href="{src}">{alt}</a>'


_md = MarkdownIt("commonmark", {"html": False, "breaks": True, "highlight": _highlight}).enable(
    ["table", "strikethrough"]
)
_md.add_render_rule("image", _image_as_link)

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "span",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}, "code": {"class"}, "ol": {"start"}}


def render_markdown(text: str) -> str:
    """Sanitized HTML for `text`; safe to mark_safe()."""
    return nh3.clean(
        _md.render(text),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render_markdown_blocks(text: str) -> str:
    """The stored HTML of a text block: rendered top-level block by top-level block, exactly as
    `LiveMarkdown` renders it while it streams, so the page after the stream equals the stream."""
    live = LiveMarkdown()
    live.feed(text)
    return live.finish(text)


class LiveMarkdown:
    """A growing markdown text, rendered as it streams: each top-level block (paragraph, heading,
    list, fenced code, table) once, when the next one starts on a complete line; the still-open
    tail stays plain text. Only the tail is parsed again, and only when a line ends: O(n) overall
    but for one long open block."""

    def __init__(self) -> None:
        self.html = ""  # the closed blocks, rendered
        self.closed = 0  # characters of the text they cover

    def feed(self, text: str) -> tuple[str, int] | None:
        """`text` is the whole block so far. Returns (HTML of newly closed blocks, the UTF-16 length
        of the text they cover, as the browser counts it), or None when no block closed."""
        tail = text[self.closed :]
        complete = tail[: tail.rfind("\n") + 1]
        starts = [t.map[0] for t in _md.parse(complete) if t.level == 0 and t.nesting >= 0 and t.map]
        if len(starts) < 2:
            return None
        cut = sum(len(line) for line in complete.splitlines(keepends=True)[: starts[-1]])
        html = render_markdown(tail[:cut])
        self.html += html
        self.closed += cut
        return html, len(tail[:cut].encode("utf-16-le")) // 2

    def finish(self, text: str) -> str:
        """The whole block rendered: the closed blocks as they were, then the rest."""
        rest = text[self.closed :]
        return self.html + (render_markdown(rest) if rest.strip() else "")


def block_html(block, sources=None) -> str:
    """A content block (stored, or still streaming: then unsaved) as the page shows it; `sources`
    numbers a streaming reply's citations (citations.Sources)."""
    context = {"block": block, "message": {"role": "assistant"}, "sources": sources}
    return render_to_string("conversations/_block.html", context).strip()


def message_html(message) -> str:
    """The message as the page shows it (its blocks read here)."""
    blocks = list(message.blocks.order_by("index"))
    return render_to_string("conversations/_message.html", {"message": message, "blocks": blocks})
