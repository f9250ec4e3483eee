# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Projects in a real browser: alice makes a team project (Projects, New project), adds knowledge
files; bob, a member, opens it and chats (the request carries the instructions, then the files
with a 1-hour breakpoint) and gets a cited answer (the quoted passage and the file's name, linked
to the file, at its page for a PDF); alice edits the instructions (a new version; bob's chat keeps
its own); carol, outside the team, gets 404. Then the same with knowledge too large to send whole
(a second app with a tiny CHAT_PROJECT_KNOWLEDGE_SHARE): the question's passages go as
search_result blocks and the answer cites one (search_result_location). Axe finds nothing serious;
screenshots of the project page and of the cited answers at 1280 and 390 px, light and dark
(test-results/projects-*.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import Cited, FakeAnthropic, GroundedReply, Reply
from fakes.search_results import search_citation
from tests.helpers import pdf_bytes, serious_violations, signed_in
from tests.live import PYTHON, ROOT, LiveApp, live_app, live_fake_api, send_message  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SHOTS = ROOT / "test-results"
SEED = """
from teams.services import member_add, team_create
from django.contrib.auth import get_user_model
User = get_user_model()
team = team_create(user=User.objects.get(username="alice"), name="Support")
member_add(team=team, identifier="bob", role="member")
User.objects.create_user("carol", password="carol-pass-123")
"""
SEARCHED = "Too large to send whole: each question gets the matching passages"
FAQ = "# FAQ\n\nWe ship on Fridays.\n\nRefunds take five days.\n"
# A document citation of each file (the request's document blocks: faq.md, then manual.pdf).
FAQ_CITED = {
    "type": "char_location",
    "cited_text": "We ship on Fridays.",
    "document_index": 0,
    "document_title": "faq.md",
    "start_char_index": 7,
    "end_char_index": 26,
}
MANUAL_CITED = {
    "type": "page_location",
    "cited_text": "Shipping days are listed on page two.",
    "document_index": 1,
    "document_title": "manual.pdf",
    "start_page_number": 2,
    "end_page_number": 3,
}


@pytest.fixture(scope="module")
def live_app_searched(live_fake_api: FakeAnthropic) -> Iterator[LiveApp]:
    """The app with knowledge that never fits whole: every project's files are searched."""
    app = LiveApp(
        {
            "ANTHROPIC_BASE_URL": live_fake_api.base_url,
            "ANTHROPIC_API_KEY": "test-key",
            "CHAT_PROJECT_KNOWLEDGE_SHARE": "0.00000001",
        }
    ).start()
    try:
        yield app
    finally:
        app.stop()


def test_create_add_files_a_teammate_chats_edit_instructions_and_a_stranger_gets_404(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic, tmp_path
) -> None:
    live_fake_api.reset()
    alice, project_url = team_project_with_files(browser, live_app, tmp_path)
    assert serious_violations(alice) == []

    # bob, a member, opens the project from the navigation, chats in it and gets a cited answer.
    live_fake_api.enqueue(GroundedReply([Cited("We ship on Fridays.", [FAQ_CITED, MANUAL_CITED])]))
    bob = bob_asks(browser, live_app, "When do we ship?")
    body = next(r.body for r in reversed(live_fake_api.message_requests) if r.body.get("stream"))
    assert body["system"] == [
        {
            "type": "text",
            "text": "Answer from the handbook.",
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    content = body["messages"][0]["content"]
    assert [b.get("title") for b in content[:2]] == ["faq.md", "manual.pdf"]
    assert content[1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert content[2]["text"] == "When do we ship?"
    chat_url = bob.url
    expect(source(bob, "faq.md").locator("q")).to_have_text("We ship on Fridays.")
    expect(source(bob, "manual.pdf, page 2").locator("q")).to_have_text(
        "Shipping days are listed on page two."
    )
    faq_href = opens_the_file(bob, "faq.md", "text/", "Refunds take five days.")
    assert re.search(r"/projects/\d+/files/\d+/$", faq_href), faq_href
    pdf_href = opens_the_file(bob, "manual.pdf, page 2", "application/pdf")
    assert re.search(r"/projects/\d+/files/\d+/#page=2$", pdf_href), pdf_href

    # alice edits the instructions: a new version; bob's chat keeps the one it started with.
    alice.goto(project_url)
    alice.get_by_role("link", name="Edit instructions").click()
    alice.get_by_label("Instructions").fill("Answer from the handbook, in one sentence.")
    alice.get_by_role("button", name="Save").click()
    expect(alice.get_by_role("heading", name="Instructions v2")).to_be_visible()
    live_fake_api.enqueue(Reply("Still Fridays."))
    bob.goto(chat_url)
    reply = send_message(bob, "Sure?", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    body = next(r.body for r in reversed(live_fake_api.message_requests) if r.body.get("stream"))
    assert body["system"][0]["text"] == "Answer from the handbook."
    bob.goto(project_url)
    chats = bob.get_by_role("region", name="Your chats in this project")
    expect(chats.get_by_role("link", name="When do we ship?")).to_be_visible()
    bob.context.close()

    # carol is in no team of the project: 404 on its page, its file and a new chat in it.
    carol = signed_in(browser, live_app, "carol", viewport={"width": 1280, "height": 900}, axe=True)
    for url in (
        project_url,
        f"{project_url}instructions/",
        f"{live_app.url}/new/?project={project_url.split('/')[-2]}",
    ):
        assert carol.goto(url).status == 404, url
    carol.goto(f"{live_app.url}/projects/")
    expect(carol.get_by_text("No projects yet.")).to_be_visible()
    carol.context.close()
    alice.context.close()

    screenshots(browser, live_app, project_url)
    chat_screenshots(browser, live_app, chat_url, "cited")


def test_knowledge_too_large_to_send_whole_is_searched_and_the_passage_cited(
    browser: Browser, live_app_searched: LiveApp, live_fake_api: FakeAnthropic, tmp_path
) -> None:
    live_fake_api.reset()
    alice, project_url = team_project_with_files(browser, live_app_searched, tmp_path)
    expect(
        alice.get_by_text("Too large to send whole: each question gets the matching passages")
    ).to_be_visible()
    alice.context.close()

    # bob's question carries faq.md's matching passage, and the answer cites its third paragraph.
    live_fake_api.enqueue(GroundedReply([Cited("Five days.", [search_citation(0, start=2)])]))
    bob = bob_asks(browser, live_app_searched, "How long do refunds take?")
    body = next(r.body for r in reversed(live_fake_api.message_requests) if r.body.get("stream"))
    content = body["messages"][0]["content"]
    assert [b["type"] for b in content] == ["text", "search_result"]  # the question, then its passage
    result = content[1]
    assert (result["title"], result["citations"]) == ("faq.md", {"enabled": True})
    assert [b["text"] for b in result["content"]] == [
        "# FAQ",
        "We ship on Fridays.",
        "Refunds take five days.",
    ]

    expect(bob.locator("[data-role=assistant]").last).to_contain_text("Five days.")
    expect(source(bob, "faq.md").locator("q")).to_have_text("Refunds take five days.")
    href = opens_the_file(bob, "faq.md", "text/", "We ship on Fridays.")
    assert href == result["source"] and re.search(r"/projects/\d+/files/\d+/$", href), href
    chat_url = bob.url
    bob.context.close()
    chat_screenshots(browser, live_app_searched, chat_url, "searched")


def team_project_with_files(browser: Browser, app: LiveApp, tmp_path) -> tuple[Page, str]:
    """Team Support (alice owns it, bob is a member, carol is not); alice makes its project
    Handbook and adds faq.md and a 3-page manual.pdf. Her page and the project's URL."""
    app.shell(SEED)
    app.users["carol"] = "carol-pass-123"

    alice = signed_in(browser, app, "alice", viewport={"width": 1280, "height": 900}, axe=True)
    alice.get_by_role("link", name="Projects").click()
    alice.get_by_role("link", name="New project").click()
    alice.get_by_label("Name").fill("Handbook")
    alice.get_by_label("Instructions").fill("Answer from the handbook.")
    alice.get_by_label("Team").select_option(label="Support")
    alice.get_by_role("button", name="Save").click()
    alice.wait_for_url(re.compile(r"/projects/\d+/$"))
    project_url = alice.url
    expect(alice.get_by_role("heading", name="Handbook", exact=True)).to_be_visible()

    (tmp_path / "faq.md").write_text(FAQ)
    (tmp_path / "manual.pdf").write_bytes(pdf_bytes(3))
    alice.get_by_label("Add knowledge files").set_input_files([tmp_path / "faq.md", tmp_path / "manual.pdf"])
    alice.get_by_role("button", name="Upload").click()
    files = alice.get_by_role("region", name="Knowledge files")
    expect(files.get_by_role("row")).to_have_count(3)  # the header and two files
    expect(files.get_by_role("row").filter(has_text="manual.pdf")).to_contain_text("3")  # pages
    return alice, project_url


def bob_asks(browser: Browser, app: LiveApp, question: str) -> Page:
    """bob opens Handbook from the navigation and asks in a new chat in it; his page, once the
    reply is complete."""
    bob = signed_in(browser, app, "bob", viewport={"width": 1280, "height": 900}, axe=True)
    bob.get_by_role("link", name="Projects").click()
    bob.get_by_role("link", name="Handbook").click()
    expect(bob.get_by_label("Add knowledge files")).to_have_count(0)  # members do not change files
    with bob.expect_navigation(url=re.compile(r"/new/\?project=\d+$")):
        bob.get_by_role("link", name="New chat", exact=True).last.click()
    expect(bob.get_by_role("heading", name="New chat in Handbook")).to_be_visible()
    reply = send_message(bob, question, click=True)
    bob.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    return bob


def source(page: Page, label: str):
    """The reply's footnote (Sources) linking to `label`."""
    return (
        page.get_by_role("list", name="Sources")
        .get_by_role("listitem")
        .filter(has=page.get_by_role("link", name=label, exact=True))
    )


def opens_the_file(page: Page, label: str, media_type: str, text: str | None = None) -> str:
    """Follow the footnote link `label` (a new tab): the file's own view answers with the file.
    Its href."""
    link = page.get_by_role("list", name="Sources").get_by_role("link", name=label, exact=True)
    href = link.get_attribute("href")
    # Chromium's PDF viewer may download rather than show: the bytes are checked, not the tab.
    response = page.request.get(urljoin(page.url, href))
    assert response.status == 200 and response.headers["content-type"].startswith(media_type), href
    if text is not None:
        with page.expect_popup() as popup:
            link.click()
        tab = popup.value
        tab.wait_for_load_state()
        assert tab.url.endswith(href)
        expect(tab.locator("body")).to_contain_text(text)
        tab.close()
    return href


def chat_screenshots(browser: Browser, app: LiveApp, chat_url: str, name: str) -> None:
    """bob's cited answer at 1280 and 390 px, light and dark: nothing overflows, axe is clean."""
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser, app, "bob", viewport={"width": width, "height": 900}, color_scheme=scheme, axe=True
            )
            page.goto(chat_url)
            expect(page.get_by_role("list", name="Sources")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (width, scheme)
            page.screenshot(path=SHOTS / f"projects-{name}-{width}-{scheme}.png", full_page=True)
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()


def screenshots(browser: Browser, app: LiveApp, project_url: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser, app, "alice", viewport={"width": width, "height": 900}, color_scheme=scheme, axe=True
            )
            page.goto(project_url)
            expect(page.get_by_role("heading", name="Knowledge files 2 of 50", exact=False)).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (width, scheme)
            page.screenshot(path=SHOTS / f"projects-{width}-{scheme}.png", full_page=True)
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()
