# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Projects in a real browser: alice makes a team project (Projects, New project), adds knowledge
files; bob, a member, opens it and chats (the request carries the instructions, then the files
with a 1-hour breakpoint); alice edits the instructions (a new version; bob's chat keeps its
own); carol, outside the team, gets 404. Axe finds nothing serious; screenshots of the project page
at 1280 and 390 px, light and dark (test-results/projects-*.png)."""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import login, pdf_bytes, serious_violations
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
FAQ = "# FAQ\n\nWe ship on Fridays.\n\nRefunds take five days.\n"


def signed_in(browser: Browser, app: LiveApp, user: str, **options) -> Page:
    context = browser.new_context(bypass_csp=True, **options)  # CSP off for axe's script only
    context.set_default_timeout(15_000)
    page = context.new_page()
    login(page, app, user)
    return page


def test_create_add_files_a_teammate_chats_edit_instructions_and_a_stranger_gets_404(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic, tmp_path
) -> None:
    live_fake_api.reset()
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=live_app.env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    live_app.users["carol"] = "carol-pass-123"

    alice = signed_in(browser, live_app, "alice", viewport={"width": 1280, "height": 900})
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
    assert serious_violations(alice) == []

    # bob, a member, opens the project from the navigation and chats in it.
    live_fake_api.enqueue(Reply("We ship on Fridays."))
    bob = signed_in(browser, live_app, "bob", viewport={"width": 1280, "height": 900})
    bob.get_by_role("link", name="Projects").click()
    bob.get_by_role("link", name="Handbook").click()
    expect(bob.get_by_label("Add knowledge files")).to_have_count(0)  # members do not change files
    with bob.expect_navigation(url=re.compile(r"/new/\?project=\d+$")):
        bob.get_by_role("link", name="New chat", exact=True).last.click()
    expect(bob.get_by_role("heading", name="New chat in Handbook")).to_be_visible()
    reply = send_message(bob, "When do we ship?", click=True)
    bob.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
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
    carol = signed_in(browser, live_app, "carol", viewport={"width": 1280, "height": 900})
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


def screenshots(browser: Browser, app: LiveApp, project_url: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser, app, "alice", viewport={"width": width, "height": 900}, color_scheme=scheme
            )
            page.goto(project_url)
            expect(page.get_by_role("heading", name="Knowledge files 2 of 50", exact=False)).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (width, scheme)
            page.screenshot(path=SHOTS / f"projects-{width}-{scheme}.png", full_page=True)
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()
