"""Markdown -> safe HTML (markdown-it-py with raw HTML off, Pygments for code, nh3 to sanitize), and
blocks and messages -> the HTML the page shows, from one template each, wherever they are shown
(the page, the live stream, a staff transcript).

Remote images are never loaded: an image in markdown becomes a plain link. Math ($…$, $$…$$, \\(…\\),
\\[…\\]) is marked, its TeX escaped, for the browser to typeset (static/conversations/rich.js).
"""

import functools
import re
from html import escape

import nh3
from django.template.loader import render_to_string
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# The version of what this module makes, stored with every block's HTML (ContentBlock.rendered_version).
# Bump it when a change here (markdown-it's options, the allow-list, highlighting, LiveMarkdown's
# cuts) changes the HTML; `manage.py rerender` then renders the stored HTML made before again.
RENDERER_VERSION = 2  # 2: math marked

_formatter = HtmlFormatter(nowrap=True)


@functools.lru_cache(maxsize=32)
def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Kept for a while: a streaming reply renders its last closed code block several times."""
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


# Math: parsed before markdown's own inline rules, so nothing inside it is markdown (`$a_1*b_2$` is not
# emphasis), and written as escaped TeX in an element the browser typesets. Dollars follow pandoc's
# rule, so prices are prose: an opening $ not followed by a space, a closing $ not preceded by one
# nor followed by a digit ("$5 and $10" stays text), and no backtick inside: "$5 or `$HOME`" is a
# price and a code span.
_MATH_HTML = {
    "math_inline": '<span class="math-inline">{}</span>',
    "math_inline_double": '<span class="math-display">{}</span>',  # $$…$$ or \\[…\\] within a paragraph
    "math_block": '<div class="math-display">{}</div>\n',
}
_BRACKETS = {"(": ")", "[": "]"}


def _math(_renderer, tokens, idx, options, env) -> str:
    token = tokens[idx]
    return _MATH_HTML[token.type].format(escapeHtml(token.content.strip()))


def _dollars_without_code(rule):
    def math_inline(state: StateInline, silent: bool) -> bool:
        start = state.pos
        if not rule(state, True):
            return False
        end, state.pos = state.pos, start
        return "`" not in state.src[start:end] and rule(state, silent)

    return math_inline


def _math_brackets_inline(state: StateInline, silent: bool) -> bool:
    """\\(…\\) inline, \\[…\\] displayed, within a paragraph (a backslash before them is escaped:
    the escape rule has taken it)."""
    src, start = state.src, state.pos
    opener = src[start + 1 : start + 2]
    if src[start] != "\\" or opener not in _BRACKETS:
        return False
    end = src.find("\\" + _BRACKETS[opener], start + 2)
    if end < 0 or not src[start + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline" if opener == "(" else "math_inline_double", "math", 0)
        token.content, token.markup = src[start + 2 : end], "\\" + opener
    state.pos = end + 2
    return True


def _math_brackets_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """\\[ starting a line, \\] ending the same or a later one, with no blank line between."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False  # an indented code block
    first = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    if not first.startswith("\\["):
        return False
    lines = [first[2:]]
    line = start
    while not lines[-1].rstrip().endswith("\\]"):
        line += 1
        if line >= end or state.isEmpty(line):
            return False
        lines.append(state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]])
    content = "\n".join(lines).rstrip()[:-2]
    if not content.strip() or "\\]" in content:
        return False
    if not silent:
        token = state.push("math_block", "math", 0)
        token.block, token.content, token.markup = True, content, "\\["
        token.map = [start, line + 1]
    state.line = line + 1
    return True


def _parser(**options) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, **options})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    md.inline.ruler.at("math_inline", _dollars_without_code(math_inline_dollar(False, False, True)))
    md.inline.ruler.before("escape", "math_brackets", _math_brackets_inline)
    md.block.ruler.before("fence", "math_brackets_block", _math_brackets_block, {"alt": ["paragraph"]})
    for kind in _MATH_HTML:
        md.add_render_rule(kind, _math)
    return md


_md = _parser(highlight=_highlight)
_plain_md = _parser()  # the same, code left plain (see _render_unhighlighted)

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "span",
    "table", "thead", "tbody", "tr", "th", "td", "div",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}, "code": {"class"}, "ol": {"start"}}
_ALLOWED_VALUES = {"div": {"class": {"math-display"}}}  # a div is only ever displayed math


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        tag_attribute_values=_ALLOWED_VALUES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render_markdown(text: str) -> str:
    """Sanitized HTML for `text`; safe to mark_safe()."""
    return _clean(_md.render(text))


def _render_unhighlighted(text: str) -> str:
    """As render_markdown, code left plain: a code block still being written is highlighted
    once, when it closes, not at every line."""
    return _clean(_plain_md.render(text))


def render_markdown_blocks(text: str) -> str:
    """The stored HTML of a text block: rendered top-level block by top-level block, exactly as
    `LiveMarkdown` renders it while it streams, so the page after the stream equals the stream."""
    live = LiveMarkdown()
    live.close_blocks(text[: text.rfind("\n") + 1])
    return live.finish(text)


# --- the open block, while it streams --------------------------------------------------------

_PLACE = "zqxopenlineqz"  # a word no reply holds: where the open line's HTML goes in its block
_LINE_PREFIX = re.compile(r"[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+|>[ \t]?|#{1,6}[ \t]+)*")
# A line still only syntax ("##", "-", "1.", "```py", "|---"): hidden until its words come.
_ONLY_SYNTAX = re.compile(
    r"[ \t]*(?:#{1,6}|[-*+=_]+|\d{1,9}[.)]|>|`{1,2}|~{1,2}|(?:`{3,}|~{3,})[^`\s]*|\|[-:| \t]*)[ \t]*"
)
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")
_TABLE_DELIMITER = re.compile(r"[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)*[ \t]*:?-+:?[ \t]*\|?[ \t]*")
_INLINE_SYNTAX = re.compile(r"[\\`*_\[\]<>!&~|$]")
# In the rendered HTML, what is never markdown syntax: tags, code spans, math, escaped brackets.
_NOT_SYNTAX = re.compile(r'<code>.*?</code>|<span class="math-inline">.*?</span>|<[^>]+>|&lt;|&gt;')
_OPEN_LINK = re.compile(r"!?\[([^\[\]]*)\](?:\([^)]*)?$|!?\[([^\[\]]*)$")
_OPEN_AUTOLINK = re.compile(r"<[A-Za-z][\w+.-]*:[^\s>]*$")
_DELIMITER_RUN = re.compile(r"\*+|_+|~~")
_BACKTICKS = re.compile(r"`+")


def _escape_text(text: str) -> str:
    """As the sanitizer writes text (quotes stay as they are)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\xa0", "&nbsp;")


def _close_inline(text: str) -> str:
    """The open line with what is unfinished at its end closed or hidden: an open code span or
    emphasis is closed, a link not finished shows as its text, a bare marker at the end waits."""
    text = _OPEN_AUTOLINK.sub("", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        text = text[:-1]
    outside = text  # the text with code spans blanked: nothing inside them is syntax
    pos = 0
    while run := _BACKTICKS.search(outside, pos):
        closing = re.compile(rf"(?<!`){run.group()}(?!`)").search(text, run.end())
        if closing is None and not text[run.end() :].strip():
            return _close_inline(text[: run.start()])  # a bare backtick at the end waits
        if closing is None:
            text = text.rstrip() + run.group()
            closing = re.compile(rf"{run.group()}$").search(text)
        outside = outside[: run.start()] + " " * (closing.end() - run.start()) + text[closing.end() :]
        pos = closing.end()
    if link := _OPEN_LINK.search(outside):
        words = 1 if link.group(1) is not None else 2
        return _close_inline(text[: link.start()] + text[link.start(words) : link.end(words)])
    stack: list[str] = []
    for run in _DELIMITER_RUN.finditer(outside):
        before = outside[run.start() - 1] if run.start() else " "
        after = outside[run.end() : run.end() + 1]
        marker = run.group()
        if marker[0] == "_" and before.isalnum() and after.isalnum():
            continue  # snake_case
        if stack and stack[-1] == marker and not before.isspace():
            stack.pop()
        elif after and not after.isspace():
            stack.append(marker)
        elif not after:  # a marker whose words have not come
            text = text[: run.start()]
    return text.rstrip() + "".join(reversed(stack))


def _complete_table(text: str) -> str:
    """A table at the end of the text whose delimiter row has not come yet gets one, so its
    header shows as a table."""
    body = text.rstrip("\n")
    lines = body.split("\n")
    start = len(lines)
    while start and lines[start - 1].lstrip(" ").startswith("|"):
        start -= 1
    if start == len(lines) or (start and lines[start - 1].strip()):
        return text  # no table at the end, or a paragraph's line that starts with |
    header, rows = lines[start], lines[start + 1 :]
    if rows and _TABLE_DELIMITER.fullmatch(rows[0]):
        return text
    delimiter = "|" + "---|" * len(header.strip().strip("|").split("|"))
    return "\n".join([*lines[: start + 1], delimiter, *rows[1:]]) + text[len(body) :]


class _OpenLine:
    """The inline HTML of the line being written. A start of it that leaves nothing open (no
    emphasis, link or code span) is rendered once and kept; each frame renders only the rest."""

    KEEP_FROM = 80  # characters of the rest before a kept start is looked for

    def __init__(self) -> None:
        self.kept = 0  # characters of the line rendered in `html`
        self.html = ""

    def render(self, line: str) -> str:
        rest = line[self.kept :]
        if len(rest) > self.KEEP_FROM and (cut := rest.rfind(" ", 0, len(rest) - 20)) > 0:
            html = _clean(_md.renderInline(rest[:cut]))
            if not _INLINE_SYNTAX.search(_NOT_SYNTAX.sub(" ", html)):
                self.kept, self.html = self.kept + cut, self.html + html
                rest = rest[cut:]
        if not _INLINE_SYNTAX.search(rest):
            return self.html + _escape_text(rest)
        spaces = rest[len(rest.rstrip(" ")) :]  # kept, so that the next word only adds to the HTML
        return self.html + _clean(_md.renderInline(_close_inline(rest))) + spaces


class LiveMarkdown:
    """A growing markdown text, rendered as it streams. Each top-level block (paragraph, heading,
    list, fenced code, table) is rendered once, when the next one starts on a complete line. The
    open block shows rendered too, with syntax that is not finished yet closed or hidden: its
    complete lines are rendered when a line ends, around a placeholder for the line being
    written, whose inline HTML each frame renders. So a frame costs the open line; a line, the
    open block; never the whole reply."""

    def __init__(self) -> None:
        self.html = ""  # the closed blocks, rendered
        self.closed = 0  # characters of the text they cover
        self.lines = -1  # characters of the text up to the open line (its template's key) ...
        self.prefix: str | None = None  # ... with the open line's block syntax
        self.code_indent: int | None = None  # the open line is inside a fenced code block so indented
        self.placed = False  # the open line shows (line_html), between ...
        self.before, self.after = "", ""  # ... the open block's HTML before and after it
        self.line = _OpenLine()
        self.line_html = ""
        self.seen = 0  # characters of the text the last frame had

    def frame(self, text: str) -> list[str]:
        """`text` is the whole block so far. Returns [the HTML of the blocks closed since the last
        frame, the open line's HTML], and when the open block's HTML around that line changed
        since the last frame (a line ended), that too: [..., keep, add, after]: the new `before`
        is the last one's first `keep` UTF-16 units (as the page counts), then `add`. The closed
        blocks come the same way, as [keep, add] of the open block the page showed (mostly
        itself, now final), or "" when none closed. When the open line only grew by the new
        text, escaped (most frames), it returns [] and the page appends the text itself. A frame
        costs the open line in time, and what changed in bytes."""
        added, self.seen = text[self.seen :], len(text)
        before, shown, after = self.before, self.line_html, self.after  # what the page shows now
        closed = ""
        lines = text.rfind("\n") + 1
        code_line = lines != self.lines and self._code_line_ended(text[self.lines : lines])
        if lines != self.lines and not code_line:
            closed = self.close_blocks(text[:lines])
            self.code_indent = _open_fence(text[self.closed : lines])
        line = text[lines:]
        prefix = self._prefix(line)
        changed = (lines, prefix) != (self.lines, self.prefix)
        if changed:
            if not (code_line and prefix == self.prefix):
                self._template(text[self.closed : lines], prefix)
            self.lines, self.prefix, self.line = lines, prefix, _OpenLine()
        if not self.placed:
            self.line_html = ""
        elif self.code_indent is not None:
            self.line_html = _escape_text(line[len(prefix) :])
        else:
            self.line_html = self.line.render(line[len(prefix) :].lstrip(" \t"))
        if changed:  # what closed is mostly the open block as the page shows it, now final
            closed_change = _change(before + shown + after, closed) if closed else ""
            return [closed_change, self.line_html, *_change(before, self.before), self.after]
        return [] if self.line_html == shown + _escape_text(added) else ["", self.line_html]

    def _prefix(self, line: str) -> str | None:
        """The open line's block syntax (None: the line is still only syntax)."""
        if self.code_indent is not None:  # the code block's own indent is markup, the rest code
            return line[: min(self.code_indent, len(line) - len(line.lstrip(" ")))]
        if not line.strip() or _ONLY_SYNTAX.fullmatch(line):
            return None
        if line.lstrip(" ").startswith("|"):
            return line[: line.rfind("|") + 1]
        return _LINE_PREFIX.match(line).group()

    def _code_line_ended(self, ended: str) -> bool:
        """A line of an open fenced code block ended (`ended`, the text since the last line): its
        code joins `before` as the renderer would write it, and the fence stays open, so nothing
        else needs rendering or parsing again. False for anything else (a fence line, a tab)."""
        if self.code_indent is None or not self.placed or self.lines < 0 or ended.count("\n") != 1:
            return False
        line = ended[:-1]
        if "\t" in line or "\r" in line or _FENCE.match(line):
            return False
        indent = min(self.code_indent, len(line) - len(line.lstrip(" ")))
        self.before += _escape_text(line[indent:]) + "\n"
        return True

    @property
    def tail(self) -> str:
        """The open block's HTML, as the last frame showed it."""
        return self.before + self.line_html + self.after

    def finish(self, text: str) -> str:
        """The whole block rendered: the closed blocks as they were, then the rest."""
        rest = text[self.closed :]
        return self.html + (render_markdown(rest) if rest.strip() else "")

    def close_blocks(self, complete: str) -> str:
        """Render the blocks of `complete` (the text up to the open line) that a later block follows."""
        tail = complete[self.closed :]
        starts = [t.map[0] for t in _md.parse(tail) if t.level == 0 and t.nesting >= 0 and t.map]
        if len(starts) < 2:
            return ""
        cut = sum(len(line) for line in tail.splitlines(keepends=True)[: starts[-1]])
        html = render_markdown(tail[:cut])
        self.html += html
        self.closed += cut
        return html

    def _template(self, block: str, prefix: str | None) -> None:
        """Render the open block's complete lines around a placeholder for the open line: where
        its words go. Without a prefix (the line is still only syntax), or when the placeholder
        would change the block's shape, the lines so far show and the open line waits."""
        if prefix is not None:
            render = render_markdown if self.code_indent is None else _render_unhighlighted
            html = render(_complete_table(block + prefix + _PLACE))
            self.before, found, self.after = html.partition(_PLACE)
            self.placed = bool(found)
        if prefix is None or not self.placed:
            self.before, self.after = render_markdown(_complete_table(block)) if block.strip() else "", ""
            self.placed = False


def _change(old: str, new: str) -> list:
    """`new` as [how much of `old` it starts with, in UTF-16 units as the page counts, the rest]."""
    keep = _common_start(old, new)
    return [_utf16_length(old[:keep]), new[keep:]]


def _common_start(a: str, b: str) -> int:
    """How many characters a and b start with alike (compared in C: a block's HTML can be long)."""
    if b.startswith(a):
        return len(a)
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _utf16_length(text: str) -> int:
    """The length of text as JavaScript counts it."""
    return len(text.encode("utf-16-le")) // 2


def _open_fence(block: str) -> int | None:
    """The indent of the fenced code block the text ends inside, if it does (a fence closes with
    a bare run of its character at least as long as the one that opened it)."""
    fence, indent = None, None
    for line in block.splitlines():
        found = _FENCE.match(line)
        if not found:
            continue
        if fence is None:
            fence, indent = found.group(1), found.start(1)
        elif found.group(1).startswith(fence) and not line.strip().strip(fence[0]):
            fence = indent = None
    return indent


def block_html(block, sources=None) -> str:
    """A content block (stored, or still streaming: then unsaved) as the page shows it; `sources`
    numbers a streaming reply's citations (citations.Sources)."""
    context = {"block": block, "message": {"role": "assistant"}, "sources": sources}
    return render_to_string("conversations/_block.html", context).strip()


# A reply's blocks in its end frame, when the tabs watching it show them already, as final.
KEPT_BLOCKS = "<template data-kept></template>"


def message_html(message, shown: dict[int, str] | None = None) -> str:
    """The message as the page shows it (its blocks read here). `shown`: {index: HTML} of the blocks
    the tabs watching it show (the stop frames they had); when those are final, the blocks are
    KEPT_BLOCKS and the page keeps its own."""
    blocks = list(message.blocks.order_by("index"))
    context = {"message": message, "blocks": blocks, "shown": shown}
    return render_to_string("conversations/_message.html", context)
