# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Frames that leave out what a tab has (realtime.py): a text frame that carries only its text, a
block's stop frame without the markdown blocks that closed while it streamed, an end frame without
the blocks. A tab that watched from the start and a tab that joined mid-stream (a snapshot) both
end with the page reloaded."""

import pytest
from playwright.sync_api import Page, expect

from fakes import Reply
from tests.helpers import login
from tests.live import (  # noqa: F401 (pytest fixtures)
    LiveApp,
    live_app,
    live_fake_api,
    open_new_chat,
    send_message,
)

pytestmark = pytest.mark.browser

PROSE = "A sentence of plain words, with more words after it & a <tag> that is text. " * 6
REPLY = (
    f"## Plan\n\n{PROSE}\n\n- one **bold** item\n- two\n\n"
    "```python\nprint('hi')\nprint('<b>not bold</b> & done')\n```\n\n"
    f"{PROSE}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end 😀."
)
STREAMING = "[data-role=assistant][data-status=streaming]"
# Whether code that looks like HTML ever showed as HTML while it streamed (it is text: escaped).
WATCH_CODE = """
window.tagsInCode = 0;
new MutationObserver(() => {
  if (document.querySelector("[data-role=assistant] pre b")) window.tagsInCode += 1;
}).observe(document, { subtree: true, childList: true, characterData: true });
"""
BLOCKS = "[data-role=assistant] .blocks"


def test_a_tab_from_the_start_and_a_tab_that_joined_end_as_the_page_reloaded(
    page: Page, live_app: LiveApp, live_fake_api
):
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(REPLY, tokens_per_second=40))
    page.add_init_script(WATCH_CODE)
    login(page, live_app)
    open_new_chat(page)
    reply = send_message(page, "Make a plan")
    expect(reply.locator("ul li")).to_have_count(2, timeout=30_000)  # blocks have closed
    expect(reply).to_have_attribute("data-status", "streaming")

    joined = page.context.new_page()
    joined.goto(page.url)
    expect(joined.locator(f"{STREAMING} .streaming-text")).not_to_have_count(0)  # it joins mid-stream
    for tab in (page, joined):
        reply = tab.locator("[data-role=assistant]")
        expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    streamed = [tab.locator(BLOCKS).inner_html() for tab in (page, joined)]
    assert "print" in streamed[0] and "<table>" in streamed[0] and "The end 😀." in streamed[0]
    assert "&amp; a &lt;tag&gt; that is text" in streamed[0] and "&lt;b&gt;not bold" in streamed[0]
    assert page.evaluate("window.tagsInCode") == 0

    page.reload()
    assert streamed == [page.locator(BLOCKS).inner_html()] * 2
    page.get_by_role("button", name="Copy reply").click()  # the end frame's footer works
    joined.close()
