"""Math in replies: the renderer marks $…$, $$…$$, \\(…\\) and \\[…\\] as escaped TeX for the browser
to typeset (nothing inside is markdown), leaves code and prices as they are, and the sanitizer keeps
it inert. Streamed block by block, math ends exactly as rendered whole."""

import re
from html import unescape
from html.parser import HTMLParser

import pytest

from conversations import rendering
from conversations.rendering import LiveMarkdown, render_markdown, render_markdown_blocks


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("So $e^{i\\pi}+1=0$.", '<p>So <span class="math-inline">e^{i\\pi}+1=0</span>.</p>'),
        ("By \\(x^2\\) here", '<p>By <span class="math-inline">x^2</span> here</p>'),
        ("$$\n\\frac{a}{b}\n$$", '<div class="math-display">\\frac{a}{b}</div>'),
        ("\\[\n\\sum_i x_i\n\\]", '<div class="math-display">\\sum_i x_i</div>'),
        (
            "then $$x$$ and \\[y\\] inline",
            '<p>then <span class="math-display">x</span> and <span class="math-display">y</span> inline</p>',
        ),
    ],
)  # fmt: skip
def test_each_delimiter_is_marked_as_inline_or_displayed_math(text, html):
    assert render_markdown(text).strip() == html


def test_markdown_inside_math_is_tex_not_markdown():
    html = render_markdown("$a_1*b_2*c$ and $x_1 + y_1$, then *real* emphasis")
    assert '<span class="math-inline">a_1*b_2*c</span>' in html
    assert '<span class="math-inline">x_1 + y_1</span>' in html
    assert html.count("<em>") == 1 and "<em>real</em>" in html
    display = render_markdown("$$\n- a\n# b\n$$\n\nafter")
    assert display.startswith('<div class="math-display">- a\n# b</div>') and "<ul>" not in display


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",
        "Between $5 and $ 10",
        "Pay $20, or $30 with tax",
        "A $ sign alone, and 5$ too",
        "$5 or `$HOME`",
        "Not \\$escaped$ math",
    ],
)
def test_dollars_in_prose_stay_prose(text):
    html = render_markdown(text)
    assert "math-" not in html
    assert html.count("$") == text.count("$")  # each shown as written (an escaped one without its \\)


def test_math_inside_code_stays_code():
    html = render_markdown("Run `$x$` and `\\(y\\)`.\n\n```\n$$z$$\n\\[w\\]\n```\n\n    $indented$\n")
    assert "math-" not in html
    assert "<code>$x$</code>" in html and "<code>\\(y\\)</code>" in html
    assert "<pre><code>$$z$$\n\\[w\\]\n</code></pre>" in html
    assert "<pre><code>$indented$\n</code></pre>" in html


def test_a_mermaid_fence_stays_a_code_block_for_the_browser_to_draw():
    html = render_markdown("```mermaid\ngraph TD\n  A-->B\n```")
    assert html.strip() == '<pre><code class="language-mermaid">graph TD\n  A--&gt;B\n</code></pre>'


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, attrs))


@pytest.mark.parametrize(
    ("text", "tex"),
    [
        ("$<img src=x onerror=alert(1)>$", "<img src=x onerror=alert(1)>"),
        ("$$\n<script>alert(1)</script>\n$$", "<script>alert(1)</script>"),
        ("\\(<a href='javascript:alert(1)'>x</a>\\)", "<a href='javascript:alert(1)'>x</a>"),
        ('$x" onmouseover="alert(1)$', 'x" onmouseover="alert(1)'),
    ],
)
def test_tex_is_escaped_text_and_nothing_executable_survives(text, tex):
    elements = _Elements()
    elements.feed(render_markdown(text))
    assert [tag for tag, _ in elements.found if tag not in ("p",)] in (["span"], ["div"])
    assert [attrs for tag, attrs in elements.found if tag != "p"][0] in (
        [("class", "math-inline")],
        [("class", "math-display")],
    )
    assert unescape(re.sub(r"<[^>]+>", "", render_markdown(text))).strip() == tex  # all of it text


def test_the_sanitizer_lets_a_div_through_only_as_displayed_math():
    assert rendering._clean('<div class="math-display">x</div>') == '<div class="math-display">x</div>'
    assert rendering._clean('<div class="evil" onclick="x()">y</div>') == "<div>y</div>"


MATH_REPLY = (
    "The identity $e^{i\\pi}+1=0$, costs of $5 and $10, and `$code$`.\n\n"
    "$$\n\\int_0^1 x\\,dx = \\tfrac12\n$$\n\n"
    "With \\(a_1*b_2\\) inline and\n\\[\nx^2 + y^2 = z^2\n\\]\n\n"
    "```mermaid\nflowchart LR\n  A --> B\n```\n\nDone."
)


def test_math_streamed_block_by_block_ends_as_rendered_whole():
    live = LiveMarkdown()
    for end in range(1, len(MATH_REPLY) + 1):
        live.frame(MATH_REPLY[:end])
    shown = live.html  # the closed blocks, as their frames sent them
    assert shown + live.tail == live.finish(MATH_REPLY) == render_markdown_blocks(MATH_REPLY)
    assert render_markdown_blocks(MATH_REPLY) == render_markdown(MATH_REPLY)
    assert shown.count("math-") == 4  # the closed blocks came with their math marked
