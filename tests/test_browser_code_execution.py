# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for code execution: turned on in the composer,
a reply shows the code, its output and errors, a chart it made inline and a file to download
through the ownership-checked view; it fits a phone and passes axe in both schemes. Screenshots at
1280 and 390 px, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import Code, EditFile, FakeAnthropic, GroundedReply, Output, Reply
from tests.helpers import image_bytes, serious_violations, signed_in
from tests.live import (  # noqa: F401 (pytest fixtures)
    ROOT,
    LiveApp,
    live_app,
    live_fake_api,
    open_new_chat,
    send_message,
)

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
SCREENSHOTS = ROOT / "test-results"
CHART = image_bytes(320, 200)
CSV = b"month,sales\n" + b"".join(f"2026-{m:02},{m * 100}\n".encode() for m in range(1, 13))
LONG_LINE = "x" * 300  # a long unbroken output line scrolls inside its box, not the page


def analysis() -> GroundedReply:
    return GroundedReply(
        [
            "I'll analyse the sales.",
            EditFile("/tmp/plot.py", "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.plot()\n"),
            Code(
                "python /tmp/plot.py && head -3 sales.csv",
                f"month,sales\n2026-01,100\n{LONG_LINE}\n",
                stderr="UserWarning: <no display> found",
                files=[Output("sales-chart.png", CHART, "image/png"), Output("sales.csv", CSV, "text/csv")],
            ),
            "Sales rise every month; the chart and the table are attached.",
        ]
    )


def chat_with_code(page: Page, fake: FakeAnthropic) -> None:
    fake.enqueue(Reply("Hello! Ask me anything."))
    open_new_chat(page)
    reply = send_message(page, "Hi", click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    page.get_by_role("checkbox", name="Code execution").check()  # sent with the next message


def test_a_reply_shows_its_code_output_and_files(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    page = signed_in(browser, live_app, "alice")
    chat_with_code(page, live_fake_api)
    live_fake_api.enqueue(analysis())
    reply = send_message(page, "Plot monthly sales", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    assert live_fake_api.message_requests[-1].body["tools"][-1] == {
        "type": "code_execution_20260521",
        "name": "code_execution",
    }
    expect(reply.locator(".block-code summary").first).to_have_text("Wrote /tmp/plot.py")
    expect(reply.locator(".block-code").nth(1)).to_contain_text("python /tmp/plot.py && head -3 sales.csv")
    expect(reply.locator(".code-stdout")).to_contain_text("2026-01,100")
    stderr = reply.locator(".code-stderr")
    expect(stderr).to_have_text("UserWarning: <no display> found" + "Copy")  # and its Copy errors button
    expect(stderr.get_by_role("button", name="Copy errors")).to_be_visible()
    chart = reply.get_by_role("img", name="sales-chart.png")
    expect(chart).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=chart.element_handle())

    with page.expect_download() as download:
        reply.get_by_role("link", name="sales.csv").click()
    assert download.value.suggested_filename == "sales.csv"
    assert open(download.value.path(), "rb").read() == CSV

    href = reply.get_by_role("link", name="sales.csv").get_attribute("href")
    other = signed_in(browser, live_app, "bob")
    assert other.request.get(live_app.url + href).status == 404
    other.context.close()

    page.reload()  # the stored reply reads the same
    expect(
        page.locator("[data-role=assistant]").last.get_by_role("img", name="sales-chart.png")
    ).to_be_visible()
    shoot(browser, live_app, page.url)


def shoot(browser: Browser, app: LiveApp, url: str) -> None:
    """Each width and scheme: nothing scrolls the page sideways, axe finds nothing serious."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser,
                app,
                "alice",
                viewport={"width": width, "height": height},
                color_scheme=scheme,
                axe=True,
            )
            page.goto(url)
            reply = page.locator("[data-role=assistant]").last
            reply.locator(".block-code-result").last.scroll_into_view_if_needed()
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0, width
            box = reply.locator(".code-stdout").bounding_box()
            assert box and box["x"] + box["width"] <= width, (width, box)
            page.screenshot(path=SCREENSHOTS / f"code-execution-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme)
            box = page.get_by_role("checkbox", name="Code execution").bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= width, (width, box)
            expect(page.get_by_role("checkbox", name="Code execution")).to_be_checked()
            page.locator(".conversation-settings summary").click()
            stops = page.get_by_label("Stop sequences (one per line)").bounding_box()
            assert stops and stops["height"] >= 40, (width, stops)  # two lines, not squeezed
            page.screenshot(path=SCREENSHOTS / f"settings-code-{width}-{scheme}.png")
            page.set_viewport_size({"width": width, "height": 600})  # a short window: Save still reachable
            page.get_by_role("button", name="Save settings").scroll_into_view_if_needed()
            expect(page.get_by_role("button", name="Save settings")).to_be_in_viewport()
            page.context.close()
