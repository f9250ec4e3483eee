# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser test (Chromium via Playwright) of the prompt workbench: from a team prompt's page, add
test cases (one with files), run Version A against Version B, and read the outputs side by side
with their figures; a stranger gets 404. The workbench, a case's page and a run's page at 1280 and
390 px, light and dark, axe clean."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import FakeAnthropic
from tests.helpers import image_bytes, login, serious_violations
from tests.live import ROOT, LiveApp, live_app, live_fake_api  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / "test-results"
SETUP = """
from django.contrib.auth import get_user_model
from teams import services
alice = get_user_model().objects.get(username="alice")
team = services.team_create(user=alice, name="Support")
prompt = services.prompt_create(user=alice, name="Support tone", text="Be kind.", team=team, cache_ttl="5m")
services.prompt_edit(user=alice, prompt=prompt, name=prompt.name, text="Be kind and brief.", cache_ttl="5m")
print(prompt.pk)
"""


def new_page(browser: Browser, app: LiveApp, user: str, **options) -> Page:
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(15_000)
    login(page, app, user)
    return page


@pytest.fixture(scope="module")
def prompt_url(live_app: LiveApp) -> str:
    live_app.manage("shell", "-c", SETUP)
    return f"{live_app.url}/prompts/1/"


def test_add_cases_run_a_against_b_and_read_them_side_by_side(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic, prompt_url: str
) -> None:
    live_fake_api.reset()
    page = new_page(browser, live_app, "alice")
    page.goto(prompt_url)
    page.get_by_role("link", name="Workbench").click()
    expect(page.get_by_role("heading", name="Workbench: Support tone")).to_be_visible()
    for text in ("Where is my parcel?", "Can I get a refund?"):
        page.get_by_role("textbox", name="Input").fill(text)
        if text.startswith("Where"):
            page.get_by_label("Files (optional)").set_input_files(
                [
                    {"name": "parcel.png", "mimeType": "image/png", "buffer": image_bytes()},
                    {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"Shipped Monday.\n"},
                ]
            )
        page.get_by_role("button", name="Add test case").click()
        expect(page.get_by_role("cell", name=re.compile(re.escape(text)))).to_be_visible()
    files = page.locator("#cases").get_by_role("list", name="Files")
    expect(files.get_by_role("link")).to_have_text(["parcel.png", "notes.txt"])
    href = files.get_by_role("link", name="notes.txt").get_attribute("href")
    assert page.request.get(live_app.url + href).text() == "Shipped Monday.\n"
    page.get_by_role("combobox", name="Version A").select_option(label="v1")
    page.get_by_role("combobox", name="Version B").select_option(label="v2")
    expect(page.get_by_role("checkbox", name=re.compile("Run as batch"))).not_to_be_checked()
    expect(page.get_by_role("textbox", name="Rubric")).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"/workbench/runs/\d+/$"))
    expect(page.locator("[data-run-status]")).to_have_attribute("data-run-status", "complete", timeout=30_000)
    case = page.locator("#result-1")
    expect(case.locator("[data-side=a]")).to_contain_text("Echo: Where is my parcel?")
    expect(case.locator("[data-side=b]")).to_contain_text("Echo: Where is my parcel?")
    expect(case.locator("[data-side=a] h3")).to_have_text("A: v1 · claude-sonnet-4-6")
    expect(case.locator("[data-side=b] h3")).to_have_text("B: v2 · claude-sonnet-4-6")
    expect(case.locator("[data-side=a] .wb-figures")).to_contain_text(
        re.compile(r"first token \d+ ms · stop: end_turn")
    )
    a_box = case.locator("[data-side=a]").bounding_box()
    b_box = case.locator("[data-side=b]").bounding_box()
    assert a_box["x"] + a_box["width"] <= b_box["x"] and abs(a_box["y"] - b_box["y"]) < 2  # side by side
    expect(case.locator("[data-files]")).to_have_text("Files: parcel.png, notes.txt")
    systems = sorted(r.body["system"][0]["text"] for r in live_fake_api.message_requests)
    assert systems == ["Be kind and brief.", "Be kind and brief.", "Be kind.", "Be kind."]
    kinds = sorted(
        [block["type"] for block in r.body["messages"][0]["content"]] for r in live_fake_api.message_requests
    )
    assert kinds == [["image", "document", "text"]] * 2 + [["text"]] * 2  # the files go first
    page.get_by_role("link", name="Back to the workbench").click()
    expect(page.get_by_role("link", name=re.compile(r"Run \d+"))).to_have_count(1)
    page.context.close()

    stranger = new_page(browser, live_app, "bob")
    response = stranger.goto(f"{prompt_url}workbench/")
    assert response.status == 404
    stranger.context.close()


def test_the_workbench_and_a_run_fit_and_pass_axe(browser, live_app: LiveApp, prompt_url: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        for scheme in ("light", "dark"):
            page = new_page(
                browser,
                live_app,
                "alice",
                viewport={"width": width, "height": height},
                color_scheme=scheme,
                bypass_csp=True,  # for axe's script only
            )
            for name, url in (
                ("workbench", f"{prompt_url}workbench/"),
                ("case", f"{prompt_url}workbench/cases/1/"),
                ("run", f"{prompt_url}workbench/runs/1/"),
            ):
                page.goto(url)
                assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0, (
                    name,
                    width,
                )
                page.screenshot(path=SCREENSHOTS / f"workbench-{name}-{width}-{scheme}.png", full_page=True)
                assert serious_violations(page) == [], (name, width, scheme)
            page.context.close()
