import functools
import json
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from chatsite import json_depth
from conversations import blocks, rendering
from conversations.claude import citations, params, sandbox
from conversations.library import exporting
from conversations.models import Message, ReplyFeedback, ToolApproval
from conversations.services.approvals import UNANSWERED
from conversations.services.feedback import COMMENT_LENGTH, rateable
from conversations.serving import INLINE_IMAGES

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """Tool inputs as indented JSON (autoescaped by the template). A string is a tool call's input
    still streaming: JSON so far, shown as it is. Cut where it nests too deep (json_depth.py)."""
    if isinstance(value, str):
        return value
    return json.dumps(json_depth.cut(value), indent=2, ensure_ascii=False)


@register.simple_tag
def reply_markdown(message, message_blocks) -> str:
    """What Copy reply copies: the reply's markdown as the model wrote it (its text blocks, a blank
    line between them), a cited passage followed by its sources' numbers, then the sources as the
    Markdown export lists them. Autoescaped into a <template>, whose content is that text again."""
    sources = citations.Sources(documents=getattr(message, "cited_documents", None) or [])
    parts = (blocks.markdown(block.payload, sources) for block in message_blocks if block.type == "text")
    text = "\n\n".join(parts)
    if footnotes := exporting.footnotes_markdown(sources):
        text += "\n\nSources:\n\n" + "\n".join(footnotes)
    return text


@register.simple_tag
def message_url(name: str, pk: int) -> str:
    """`{% url name pk %}` for a URL whose one argument is an id, without a reverse() per use: a
    1,000-message page has a thousand of them (30 ms). Each name is reversed once."""
    return _id_pattern(name, get_script_prefix()).replace("/0/", f"/{int(pk)}/", 1)


@register.filter
def local_time(moment, css_class: str = "") -> str:
    """A <time> the browser shows in its own zone and language (times.js); its text, for a page
    without scripts, is UTC. Written here, not as markup: a 1,000-message page has 1,000 of them."""
    if moment is None:
        return ""
    utc = moment.astimezone(UTC)
    return format_html(
        '<time{} datetime="{}">{} UTC</time>',
        format_html(' class="{}"', css_class) if css_class else "",
        utc.isoformat(timespec="seconds"),
        utc.strftime("%Y-%m-%d %H:%M"),
    )


@register.simple_tag
def usage_badge(message) -> str:
    """A reply's model, tokens and cost, with the cache detail and the options it was generated with
    on hover; nothing before its usage is known. A copied reply's figures are labelled as the
    original chat's. A tag, not template markup: a 1,000-message page has 500 of them (20 ms as
    markup)."""
    if not message.output_tokens:
        return ""
    sent = message.input_tokens + message.cache_read_input_tokens + message.cache_creation_input_tokens
    detail = (
        f"input {message.input_tokens:,} · cache read {message.cache_read_input_tokens:,} · cache write "
        f"{message.cache_creation_input_tokens:,} · output {message.output_tokens:,} tokens"
    )
    if message.cache_savings is not None:
        detail += f" · caching saved ${_places(message.cache_savings, 6)}"
    if options := params.described(message.options):
        detail += f" · {options}"
    # Each figure with its unit stays on one line (the badge wraps between them on a phone).
    values = [f"{sent:,} in", f"{message.output_tokens:,} out"]
    if message.cost is not None:
        values.append(f"${_places(message.cost, 4)}")
    if message.copied_at:  # imported or continued from a share: spent there, not here
        values.append("from the original chat")
        detail = f"Copied: what the original chat's reply used, not spent here. {detail}"
    shown = format_html_join(" · ", '<span class="figure">{}</span>', ((value,) for value in values))
    return format_html('<span class="usage muted" title="{}">{} · {}</span>', detail, message.model, shown)


def _places(amount, places: int) -> str:
    """As `floatformat:"<places>g"` shows it (half up, thousands grouped)."""
    return f"{Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"


@functools.cache
def _id_pattern(name: str, script_prefix: str) -> str:
    return reverse(name, args=[0])  # NoReverseMatch for a URL that does not take one id


# --- citations and web results (conversations/claude/citations.py) ------------------------------------


@register.filter
def text_flow(payload) -> str:
    """Classes for an answer's text block with citations around: " cited", and whether it may run
    on from the block before ("flows-in") or into the next ("flows-out"), with a space ("space-in",
    "space-out"); a line break at that edge starts a new paragraph instead."""
    text = payload.get("text") or ""
    if not text.strip():  # a block still opening: its edges are not known yet
        return ""
    classes = [
        name
        for name, applies in (
            ("cited", bool(payload.get("citations"))),
            ("flows-in", text[:1] not in ("\n", "\r")),
            ("flows-out", not text.endswith(("\n", "\r"))),
            ("space-in", text[:1] in (" ", "\t")),
            ("space-out", text.endswith((" ", "\t"))),
        )
        if applies
    ]
    return " " + " ".join(classes) if classes else ""


@register.simple_tag(takes_context=True)
def citation_sources(context, message):
    """One reply's source numbering, shared by its blocks' markers and its footnotes."""
    review = context.get("review_conversation")
    return citations.Sources(
        documents=getattr(message, "cited_documents", None) or [],
        review_conversation=review.pk if review else None,
    )


@register.simple_tag(takes_context=True)
def cited_html(context, block):
    """A cited text block's rendered HTML with its numbered markers."""
    sources = context.get("sources") or citations.Sources()
    return citations.with_marks(block.rendered, block.payload, sources)


@register.simple_tag(takes_context=True)
def cite_footnotes(context):
    sources = context.get("sources")
    return sources.footnotes() if sources else ""


@register.simple_tag
def web_link(url, title=""):
    """A link to a web page only when its URL is http(s); otherwise the text, escaped."""
    href = citations.safe_url(url)
    text = title or url or ""
    if href is None:
        return format_html('<span class="unsafe-url">{}</span>', text)
    return format_html('<a href="{}" target="_blank" rel="{}">{}</a>', href, citations.REL, text)


# --- blocks (conversations/blocks/) -----------------------------------------------------------


@register.filter
def code_call(payload) -> dict:
    """A code execution call as its partial shows it (blocks/code.py)."""
    return blocks.code.call_view(payload)


@register.simple_tag(takes_context=True)
def code_result(context, block) -> dict:
    """A code execution result as its partial shows it: its content, what it did, and the files
    the code made in the conversation shown, linked for the owner or, in a review transcript,
    through the audited review view; a shared snapshot names them without links. A copy (an
    import, Continue in my chats) lists none: the files stay the original conversation's."""
    content = blocks.kind.content_of(block.payload)
    share = context.get("share")
    # The conversation shown; None for a reply streaming here, whose files were just recorded.
    shown_in = share.conversation_id if share else getattr(context.get("message"), "conversation_id", None)
    view = "review_produced_file" if context.get("review_conversation") else "produced_file"
    files = []
    for row in [] if block.streaming else sandbox.produced_files(block.payload, shown_in):
        try:
            url = None if share else reverse(view, args=[row.conversation_id, row.file_id])
        except NoReverseMatch:  # not an id the Files API gives: shown, never linked
            url = None
        image = row.mime_type in INLINE_IMAGES
        files.append({"name": row.filename, "url": url, "size": row.size_bytes, "image": image})
    return {"content": content, "op": blocks.code.result_op(block.payload), "files": files}


@register.filter
def block_partial(block) -> str:
    """The template that shows a block (the registry's, blocks/)."""
    return blocks.partial(block.payload)


@register.filter
def file_label(payload) -> str:
    """What an attached file is called: Image, PDF or Text (blocks/files.py)."""
    return blocks.files.label(payload)


@register.filter
def linked_file(payload) -> dict:
    """A file attached by its link, as the page shows it: its label, host and file name, and the
    link itself only when it is http(s) (never loaded here: no <img> of another site)."""
    source = payload.get("source") if isinstance(payload, dict) else None
    url = source.get("url") if isinstance(source, dict) else None
    parts = blocks.files.link_parts(url)
    href = citations.safe_url(url)
    label = blocks.files.label(payload)
    return {"label": label, "host": parts.host, "name": parts.name, "href": href, "url": url}


# --- a message's blocks --------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def blocks_html(context, message, blocks) -> str:
    """A message's blocks as conversations/_block.html renders them. A plain text block (most of a
    long conversation) is written here from its stored HTML: the same markup, without a template
    include per block (a 1,000-message page spent a third of its time in them).

    `shown` in the context (a reply's end frame): {index: HTML} of what the watching tabs show. When
    that is every block, exactly as written here, the blocks are one KEPT_BLOCKS: the page keeps its own."""
    template = None
    html = []
    for block in blocks:
        plain = block.type == "text" and block.tail is None and not block.payload.get("citations")
        if plain and message.role == "assistant" and block.rendered:
            classes = f"block block-text markdown{text_flow(block.payload)}"
            html.append(f'<div class="{classes}" data-index="{block.index}">{block.rendered}</div>\n\n')
        elif plain and message.role != "assistant" and not block.rendered:
            text = f'<div class="streaming-text">{escape(block.payload.get("text", ""))}</div>'
            html.append(f'<div class="block block-text" data-index="{block.index}">{text}</div>\n\n')
        else:
            template = template or context.template.engine.get_template("conversations/_block.html")
            with context.push(block=block):
                html.append(template.render(context))
    shown = context.get("shown")
    if shown and len(shown) == len(blocks):
        if all(shown.get(b.index) == h.strip() for b, h in zip(blocks, html, strict=True)):
            return mark_safe(rendering.KEPT_BLOCKS)
    return mark_safe("".join(html))


# --- feedback on a reply (services/feedback.py) ---------------------------------------------------

_RATINGS = ReplyFeedback.Rating.choices  # (value, label): plain words, written unescaped


@register.simple_tag(takes_context=True)
def feedback_buttons(context, message, blocks) -> str:
    """Good response and Bad response under a reply that can be rated, pressed as stored. The
    page's messages come with their feedback (selectors.chosen_messages); a reply rendered alone
    reads its own."""
    if not rateable(role=message.role, status=message.status, blocks=blocks):
        return ""
    return feedback_fragment(context, message.pk, getattr(message, "feedback", None))


@register.simple_tag(takes_context=True)
def feedback_fragment(
    context, message_id: int, feedback, *, opened=False, saved=False, error="", comment=""
) -> str:
    """A reply's feedback, which each press and each Save swap whole (feedback_views.py): the two
    buttons, written here (half the replies of a 1,000-message page have them), and once it is
    rated, the comment form (conversations/_feedback_form.html). An `error` shows in the form when
    it is open, else beside the buttons."""
    rating, pk = (feedback.rating if feedback else ""), int(message_id)
    url = message_url("rate_reply", pk)
    parts = [
        f'<button type="button" class="small rate rate-{value}" id="feedback-{pk}-{value}" '
        f'aria-label="{label}" title="{label}" aria-pressed="{"true" if value == rating else "false"}" '
        f'hx-post="{url}" hx-vals=\'{{"rating": "{value}"}}\'></button>'
        for value, label in _RATINGS
    ]
    in_form = feedback is not None and opened
    if error and not in_form:
        parts.append(format_html('<p class="error" role="alert">{}</p>', error))
    if feedback is not None:
        form = context.template.engine.get_template("conversations/_feedback_form.html")
        state = {"open": opened, "saved": saved, "error": error if in_form else "", "comment": comment}
        with context.push(pk=message_id, feedback=feedback, comment_length=COMMENT_LENGTH, **state):
            parts.append(form.render(context))
    inside = "".join(parts)
    return mark_safe(
        f'<div class="feedback" id="feedback-{pk}" hx-target="this" hx-swap="outerHTML">{inside}</div>'
    )


@register.filter
def streaming_markdown(text: str) -> str:
    """A text block still streaming, shown from its stored partial text (a page loaded mid-reply)
    as its frames show it: the closed markdown blocks, then the open one."""
    live = rendering.LiveMarkdown()
    live.frame(text)
    return mark_safe(f'{live.html}<div class="streaming-text">{live.tail}</div>')


# --- connectors (claude/mcp.py) ----------------------------------------------------------------


@register.filter
def mcp_result_text(payload) -> str:
    return blocks.mcp.result_text_of(payload)


@register.filter
def tools_found(payload) -> list[str]:
    return blocks.mcp.found_tools(payload)


@register.filter
def approval(block) -> dict:
    """An approval request's answer: waiting (the form shows), approved or denied (with the reason)."""
    if block.message_id is None or getattr(block, "streaming", False):
        return {"state": "asking"}
    row = ToolApproval.objects.filter(message_id=block.message_id, call_id=block.payload.get("id")).first()
    if row is None or row.approved is None:  # unless the reply ended unanswered (a restart, say)
        streaming = Message.objects.filter(pk=block.message_id, status=Message.Status.STREAMING).exists()
        return {"state": "waiting"} if streaming else {"state": "denied", "reason": UNANSWERED}
    return {"state": "approved" if row.approved else "denied", "reason": row.reason}
