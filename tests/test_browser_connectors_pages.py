# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser test (Chromium via Playwright) of the connector pages: a team owner turns a connector on
with its tools, then adds, on their own Connectors page, the token it needs, which the page never
shows; both pages at 1280 and 390 px, light and dark, with nothing too wide and axe clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.helpers import serious_violations, signed_in
from tests.live import LiveApp, live_app, live_fake_api  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent / "test-results"
TOKEN = "xoxp-BrowserSecretToken-31337"
SETUP = """
from django.contrib.auth import get_user_model
from conversations.connectors import secrets
from conversations.models import Connector, TeamConnector
from teams import services
alice = get_user_model().objects.get(username="alice")
team = services.team_create(user=alice, name="Support")
services.member_add(team=team, identifier="bob", role="member")
tools = [{"name": "search_messages", "description": "Find messages in every channel you can read"},
         {"name": "post_message", "description": "Post a message to a channel as you"},
         {"name": "add_reaction", "description": "React to a message with an emoji"}]
chat = Connector.objects.create(name="chat", title="Team chat", url="https://chat.example.com/mcp/v1/sse",
                                auth="personal", tools=tools)
crm = Connector.objects.create(name="crm", title="Customer records", url="https://crm.example.com/mcp",
                               auth="shared", shared_token=secrets.encrypt("org-token"), tools=tools[:1])
for connector in (chat, crm):
    connector.teams.add(team)
TeamConnector.objects.create(team=team, connector=chat, tools=["search_messages", "post_message"],
                             writes=["post_message"], updated_by=alice)
"""


def test_an_owner_turns_a_connector_on_and_adds_their_token(browser, live_app: LiveApp) -> None:
    live_app.manage("shell", "-c", SETUP)
    page = signed_in(browser, live_app, axe=True)
    page.get_by_role("link", name="Teams", exact=True).click()
    page.get_by_role("link", name="Support").click()
    page.get_by_role("link", name="Connectors", exact=True).last.click()
    expect(page.get_by_role("heading", name="Connectors for Support")).to_be_visible()
    team_url = page.url
    assert serious_violations(page) == []

    section = page.locator("section", has=page.get_by_role("heading", name="Customer records"))
    section.get_by_label("Use Customer records in this team's chats and projects").check()
    section.get_by_role("button", name="Save Customer records").click()
    expect(page.get_by_role("status").filter(has_text="Saved Customer records.")).to_be_visible()
    expect(section.get_by_role("heading", name="Customer records in use")).to_be_visible()

    page.get_by_role("link", name="Connectors", exact=True).first.click()  # the person's own page
    expect(page.get_by_role("heading", name="Connectors", exact=True)).to_be_visible()
    page.get_by_label("Token for Team chat").fill(TOKEN)
    page.get_by_role("button", name="Add token").click()
    expect(page.get_by_role("status").filter(has_text="Token saved for Team chat.")).to_be_visible()
    expect(page.get_by_text("Token added")).to_be_visible()
    assert TOKEN not in page.content()
    assert serious_violations(page) == []
    page.get_by_text("Replace", exact=True).click()
    expect(page.get_by_label("New token for Team chat")).to_have_value("")
    mine_url = page.url
    page.context.close()

    for name, url in (("team", team_url), ("mine", mine_url)):
        screenshots(browser, live_app, url, name)


def screenshots(browser: Browser, app: LiveApp, url: str, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser, app, viewport={"width": width, "height": 900}, color_scheme=scheme, axe=True
            )
            page.goto(url)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (width, scheme)
            page.screenshot(path=SHOTS / f"connectors-{name}-{width}-{scheme}.png", full_page=True)
            assert serious_violations(page) == [], (name, width, scheme)
            page.context.close()
