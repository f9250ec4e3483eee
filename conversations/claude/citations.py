"""A reply's citations as the page shows them: numbered markers after the cited text, the cited
text on hover or focus, and footnotes under the reply (title and URL, or the quoted page).

Sources are numbered in the order the reply first cites them: a web page by its URL, a passage of
an attached document by its document and page (or character offset). Only http(s) URLs become
links, always with rel="noopener noreferrer nofollow"; anything else (javascript:, data:, ...) is
shown as text. Every title, URL and quote is escaped here (format_html).

A document citation's `document_index` counts the document blocks of the request that produced it;
`Message.cited_documents` keeps their attachment ids, so a page citation links to the
ownership-checked attachment view at `#page=N` (the review view inside a staff transcript), or
a PDF's link when it was sent by its link. A passage of a project's knowledge
(`search_result_location`: projects/retrieval.py) is named by its title (the file's name, and
page), quoted, and linked by its `source`, the file's address (project_file_url).
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.urls import Resolver404, resolve, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from conversations.blocks.kind import safe_url

REL = "noopener noreferrer nofollow"
QUOTE_CHARS = 300  # a longer cited text is cut for the hover box


def pages(citation: dict) -> str:
    """ "page 3" or "pages 3–4" (the API's end page is exclusive); "" when not a page citation."""
    start, end = citation.get("start_page_number"), citation.get("end_page_number")
    if not isinstance(start, int):
        return ""
    last = end - 1 if isinstance(end, int) and end - 1 > start else start
    return f"page {start}" if last == start else f"pages {start}–{last}"


@dataclass
class Source:
    number: int
    citation: dict  # the first citation of it
    href: str | None  # a safe link, or None
    label: str  # a title, or a document's name


@dataclass
class Sources:
    """Numbers for one reply's sources, in order of first citation."""

    documents: list = field(default_factory=list)  # Message.cited_documents
    review_conversation: int | None = None  # inside a staff transcript: its attachment view
    by_key: dict = field(default_factory=dict)

    def source(self, citation: dict) -> Source:
        key = _key(citation)
        if key not in self.by_key:
            href, label = self._target(citation)
            self.by_key[key] = Source(len(self.by_key) + 1, citation, href, label)
        return self.by_key[key]

    def _target(self, citation: dict) -> tuple[str | None, str]:
        if "url" in citation:
            return safe_url(citation["url"]), str(citation.get("title") or citation["url"])
        if citation.get("type") == "search_result_location":  # a project's passage: its file, at its page
            return project_file_url(citation.get("source")), str(citation.get("title") or "Project knowledge")
        label = str(citation.get("document_title") or "Attached document")
        index = citation.get("document_index")
        if not isinstance(index, int) or not 0 <= index < len(self.documents):
            return None, label
        attachment_id = self.documents[index]
        page = citation.get("start_page_number")
        if isinstance(attachment_id, str):  # a PDF by its link, or a project's file: at its page
            url = safe_url(attachment_id) or project_file_url(attachment_id)
            return (f"{url}#page={page}" if url and isinstance(page, int) else url), label
        if self.review_conversation is not None:
            url = reverse("review_attachment", args=[self.review_conversation, attachment_id])
        else:
            url = reverse("attachment_file", args=[attachment_id])
        return (f"{url}#page={page}" if isinstance(page, int) else url), label

    def footnotes(self) -> SafeString:
        if not self.by_key:
            return SafeString("")
        items = format_html_join("", "{}", ((_footnote(source),) for source in self.by_key.values()))
        return format_html('<ol class="citations" aria-label="Sources">{}</ol>', items)


def project_file_url(path) -> str | None:
    """The path when it is a project knowledge file's view (projects/knowledge.py: the project's
    members open it, anyone else gets 404), with an optional #page=N; else None (shown as text)."""
    if not isinstance(path, str) or any(ord(c) < 32 for c in path):
        return None
    try:
        parts = urlsplit(path)
        match = None if parts.scheme or parts.netloc or parts.query else resolve(parts.path)
    except (ValueError, Resolver404):
        return None
    page = parts.fragment.removeprefix("page=")
    if match is None or match.url_name != "project_file" or (parts.fragment and not page.isdecimal()):
        return None
    return path


def _key(citation: dict) -> tuple:
    """Hashable whatever the values are (they are the API's, stored as sent)."""
    if "url" in citation:
        return ("web", str(citation["url"]))
    if citation.get("type") == "search_result_location":
        return ("search", str(citation.get("source")), str(citation.get("start_block_index")))
    start = citation.get("start_page_number", citation.get("start_char_index"))
    return ("document", str(citation.get("document_index")), str(citation.get("type")), str(start))


def _link(source: Source, text: str, css: str = "") -> SafeString:
    if source.href is None:
        return format_html('<span class="{}">{}</span>', css, text)
    external = source.href.startswith(("http://", "https://"))
    return format_html(
        '<a class="{}" href="{}" target="_blank" rel="{}">{}</a>',
        css,
        source.href,
        REL if external else "noopener",
        text,
    )


def marks(payload: dict, sources: Sources) -> SafeString:
    """The numbered markers for a text block's citations, each with its cited text for hover/focus."""
    html = []
    for citation in payload.get("citations") or []:
        if not isinstance(citation, dict):
            continue
        source = sources.source(citation)
        quote = str(citation.get("cited_text") or "")
        if len(quote) > QUOTE_CHARS:
            quote = quote[:QUOTE_CHARS] + "…"
        where = pages(citation)
        detail = f"{source.label}, {where}" if where else source.label
        html.append(
            format_html(
                '<span class="cite"{}>{}<span class="cite-quote" role="tooltip">“{}”<br>— {}</span></span>',
                SafeString(' tabindex="0"') if source.href is None else "",  # a link is focusable itself
                _link(source, f"[{source.number}]", "cite-link"),
                quote,
                detail,
            )
        )
    return SafeString("".join(html))


def _footnote(source: Source) -> SafeString:
    citation = source.citation
    if "url" in citation:
        shown = format_html('<span class="cite-url">{}</span>', citation["url"])
        return format_html('<li value="{}">{} {}</li>', source.number, _link(source, source.label), shown)
    where = pages(citation)
    label = f"{source.label}, {where}" if where else source.label
    quote = str(citation.get("cited_text") or "")[:QUOTE_CHARS]
    return format_html('<li value="{}">{}: <q>{}</q></li>', source.number, _link(source, label), quote)


def with_marks(rendered: str, payload: dict, sources: Sources) -> SafeString:
    """A cited text block's HTML with its markers at the end of its last paragraph."""
    cited = marks(payload, sources)
    body = rendered.rstrip()
    if body.endswith("</p>"):
        return SafeString(body[: -len("</p>")] + cited + "</p>")
    return SafeString(body + cited)
