# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Math and diagrams in a real browser, under the app's own CSP: a streamed reply's inline and
displayed math is typeset by KaTeX, its mermaid diagram drawn as an image with its source one
click away, and a diagram that cannot be drawn shows its source with a note; prices and code stay
as written. The page after the stream equals the page reloaded, nothing breaks the CSP, and a chat
with neither fetches neither library. Axe finds nothing serious; screenshots at 1280 and 390 px,
light and dark (test-results/math-*.png)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import login, serious_violations
from tests.live import ROOT, LiveApp, live_app, live_fake_api, open_new_chat, send_message  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SHOTS = ROOT / "test-results"
ANSWER = (
    "Euler's identity is $e^{i\\pi} + 1 = 0$, and the area under $x^2$ is\n\n"
    "$$\n\\int_0^1 x^2\\,dx = \\frac{1}{3}\n$$\n\n"
    "It costs $5 and $10, and `$HOME` is code.\n\n"
    "$$\n" + " + ".join(f"x_{{{i}}}^{{{i}}}" for i in range(1, 41)) + "\n$$\n\n"
    "```mermaid\nflowchart LR\n  Ask --> Think --> Answer\n```\n\n"
    "```mermaid\nflowchart LR\n  this is --> --> not a diagram ((\n```\n\n"
    "Done."
)
PLAIN = "Nothing to typeset here: it costs $5 and $10."
# Each page records, before any of its scripts runs, what would break the CSP, and what the open
# block of a streaming reply held: TeX and a diagram half written (seen), never typeset or drawn.
RECORD = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
    e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
window.openBlock = {seen: [], drawn: []};
new MutationObserver(() => document.querySelectorAll(".streaming-text").forEach(open => {
    if (open.querySelector(".math-inline, code.language-mermaid")) window.openBlock.seen.push(open.innerHTML);
    if (open.querySelector(".katex, figure, .diagram-error")) window.openBlock.drawn.push(open.innerHTML);
})).observe(document, {childList: true, subtree: true});
"""


def signed_in(browser: Browser, app: LiveApp, *, csp: bool = True, **options) -> Page:
    """alice's page; with `csp`, the CSP enforced (axe's injected script needs it off)."""
    context = browser.new_context(bypass_csp=not csp, **options)
    context.set_default_timeout(20_000)
    page = context.new_page()
    login(page, app, "alice")
    return page


def drawn(reply) -> None:
    """Wait until the reply's math is typeset and its diagrams drawn (or given up)."""
    expect(reply.locator(".math-inline .katex")).to_have_count(2)
    expect(reply.locator(".math-display .katex-display")).to_have_count(2)
    expect(reply.locator("figure.diagram")).to_have_count(2)
    expect(reply.locator("figure.diagram img")).to_have_count(1)
    expect(reply.locator(".diagram-error")).to_have_text("Could not draw this diagram.")


def test_math_and_diagrams_render_within_the_csp_and_only_when_a_reply_has_them(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(ANSWER), Reply(PLAIN))
    page = signed_in(browser, live_app, viewport={"width": 1280, "height": 900})
    page.add_init_script(RECORD)
    console = []
    page.on("console", lambda message: console.append(message.text))
    open_new_chat(page)
    reply = send_message(page, "Some math and a diagram, please.")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    drawn(reply)
    chat_url, reply_id = page.url, reply.get_attribute("id")
    open_block = page.evaluate("window.openBlock")
    assert open_block["seen"] and open_block["drawn"] == []  # drawn once closed, not while written

    # KaTeX's output, from the TeX the server marked; prices and code stay as written.
    assert reply.locator(".math-inline").first.get_attribute("data-tex") == "e^{i\\pi} + 1 = 0"
    tex = reply.locator(".math-display .katex-mathml annotation").first  # the TeX, for screen readers
    expect(tex).to_have_text("\\int_0^1 x^2\\,dx = \\frac{1}{3}")
    expect(reply.get_by_text("It costs $5 and $10, and")).to_be_visible()
    expect(reply.locator("p code")).to_have_text("$HOME")

    # The diagram is an image of mermaid's SVG; its source is one click away.
    figure = reply.locator("figure.diagram").first
    image = figure.locator("img")
    assert image.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 10")
    assert image.get_attribute("src").startswith("data:image/svg+xml")
    source = figure.locator("pre")
    expect(source).to_be_hidden()
    figure.get_by_text("Show source").click()
    expect(source).to_be_visible()
    expect(source).to_contain_text("Ask --> Think --> Answer")
    # The one mermaid cannot draw shows its source, open, under the note.
    expect(reply.locator("figure.diagram").nth(1).locator("pre")).to_contain_text("not a diagram")
    expect(reply.locator("figure.diagram").nth(1).locator("pre")).to_be_visible()

    # The page after the stream is the page reloaded.
    figure.get_by_text("Show source").click()
    streamed = blocks_html(reply)
    page.reload()
    reply = page.locator(f"#{reply_id}")
    drawn(reply)
    assert blocks_html(reply) == streamed
    assert len(page.frames) == 2  # the page and the diagram frame: neither broke its CSP
    assert [frame.evaluate("window.cspViolations") for frame in page.frames] == [[], []]
    assert not [text for text in console if "Content Security Policy" in text or "Refused" in text], console

    # A chat with no math and no diagram fetches neither library, nor the diagram frame.
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    open_new_chat(page)
    plain = send_message(page, "Something plain.")
    expect(plain).to_have_attribute("data-status", "complete", timeout=30_000)
    page.reload()
    expect(page.get_by_text("Nothing to typeset here")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.locator(".math-inline, .katex").count() == 0
    assert not [url for url in requested if "/vendor/" in url or "diagram-frame" in url], requested
    assert any(url.endswith("rich.js") for url in requested)  # the script is there, and found nothing
    page.context.close()

    screenshots(browser, live_app, chat_url, reply_id)


def blocks_html(reply) -> str:
    """The reply's blocks as the page shows them; a diagram's image by its presence (mermaid's SVG
    is the same drawing, its ids numbered in the order drawn)."""
    return reply.locator(".blocks").evaluate(
        'el => el.innerHTML.replace(/src="data:image\\/svg\\+xml[^"]*"/g, \'src="svg"\')'
    )


def screenshots(browser: Browser, app: LiveApp, url: str, reply_id: str) -> None:
    """The reply at each width and scheme: nothing scrolls sideways, the diagram follows the
    scheme, axe finds nothing serious."""
    SHOTS.mkdir(exist_ok=True)
    images = {}
    for width, height in ((1280, 900), (390, 844)):
        for scheme in ("light", "dark"):
            options = {"viewport": {"width": width, "height": height}, "color_scheme": scheme}
            page = signed_in(browser, app, csp=False, **options)
            page.goto(url)
            reply = page.locator(f"#{reply_id}")
            drawn(reply)
            images[width, scheme] = reply.locator("figure.diagram img").get_attribute("src")
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
            expect(reply.locator(".math-display").nth(1)).to_have_attribute(
                "tabindex", "0"
            )  # scrolls, by keyboard
            reply.locator("figure.diagram").first.scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / f"math-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()
    assert images[1280, "light"] != images[1280, "dark"]  # mermaid's dark theme in the dark
