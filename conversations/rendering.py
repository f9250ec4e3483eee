"""Markdown -> safe HTML: markdown-it-py with raw HTML off, Pygments for code, nh3 to sanitize.

Remote images are never loaded: an image in markdown becomes a plain link.
"""

from html import escape

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

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
