# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser test (Chromium via Playwright) of a connector in a chat: the composer lists the team's
connector, switched on; a tool that writes asks first, and the reply waits in the page for Approve
or Deny (with a reason), then goes on. Screenshots at 1280 and 390 px, light and dark; axe clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from fakes import FakeAnthropic, GroundedReply, Reply
from fakes.mcp import McpCall
from tests.helpers import serious_violations, signed_in
from tests.live import (  # noqa: F401 (pytest fixtures)
    PYTHON,
    ROOT,
    LiveApp,
    live_app,
    live_fake_api,
    open_new_chat,
    send_message,
)

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
SHOTS = ROOT / "test-results"
URL = "https://tracker.example/mcp"
TOKEN = "alice-tracker-token-55"
TOOLS = [
    {"name": "find_issue", "description": "Find an issue by words", "input_schema": {"type": "object"}},
    {"name": "create_issue", "description": "File a new issue", "input_schema": {"type": "object"}},
]

# Team Support (alice owns it), its prompt, the connector offered to it and chosen with both tools
# (create_issue asks first), alice's own token, and her chat on the prompt with the connector on.
SEED = f"""
from django.contrib.auth import get_user_model
from conversations.connectors import secrets
from conversations.models import Connector, ConnectorToken, Conversation, TeamConnector
from teams import services
alice = get_user_model().objects.get(username="alice")
team = services.team_create(user=alice, name="Support")
prompt = services.prompt_create(user=alice, name="Support desk", text="Help.", team=team, cache_ttl="5m")
tracker = Connector.objects.create(
    name="tracker", title="Issue tracker", url={URL!r}, auth="personal", tools={TOOLS!r}
)
tracker.teams.add(team)
TeamConnector.objects.create(
    team=team, connector=tracker, tools=["find_issue", "create_issue"], writes=["create_issue"]
)
ConnectorToken.objects.create(user=alice, connector=tracker, token=secrets.encrypt({TOKEN!r}))
chat = Conversation.objects.create(
    owner=alice, model="claude-sonnet-4-6", prompt_version=prompt.latest, title="Safari login bug " * 6,
    params={{"connectors": ["tracker"]}},
)
print(chat.pk)
"""


def seeded_chat(app: LiveApp) -> str:
    return f"{app.url}/c/{app.shell(SEED).splitlines()[-1]}/"


def ask(call_id: str, title: str) -> Reply:
    asked = {
        "server": "tracker",
        "tool": "create_issue",
        "input": {"title": title},
        "why": f"Files “{title}”",
    }
    return Reply(
        "I'll file it.",
        tool_use={"id": call_id, "name": "ask_approval", "input": asked},
        stop_reason="tool_use",
    )


def test_a_tool_that_writes_waits_for_approve_or_deny_in_the_page(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    live_fake_api.mcp_server(URL, tools=TOOLS, token=TOKEN, results={"create_issue": "Created #13"})
    chat_url = seeded_chat(live_app)
    page = signed_in(browser, live_app, viewport={"width": 1280, "height": 900}, axe=True)

    # New chat: the team's connector shows once its prompt is chosen, and the first message uses it.
    open_new_chat(page)
    tracker = page.get_by_role("checkbox", name="Issue tracker")
    page.get_by_text("Connectors and skills").click()
    expect(tracker).to_be_hidden()  # no prompt: a personal chat has none
    expect(page.get_by_role("checkbox", name="Word")).to_be_visible()  # Anthropic's skills, anywhere
    page.get_by_role("combobox", name="System prompt").select_option(label="Support desk (Support)")
    tracker.check()
    live_fake_api.enqueue(Reply("Nothing filed yet."))
    first = send_message(page, "Any open Safari bugs?")
    expect(first).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    assert live_fake_api.message_requests[-1].body["mcp_servers"][0]["name"] == "tracker"

    page.goto(chat_url)
    page.get_by_text("Connectors and skills").click()
    expect(page.get_by_role("checkbox", name="Issue tracker")).to_be_checked()

    live_fake_api.enqueue(
        ask("toolu_first", "Safari login fails"),
        GroundedReply([McpCall("tracker", "create_issue", {"title": "Safari login fails"}), "Filed #13."]),
    )
    sent = len(live_fake_api.message_requests)
    reply = send_message(page, "File the Safari login bug")
    card = reply.get_by_role("region", name="Approval request")
    expect(card).to_contain_text("Claude asks to run create_issue on tracker", timeout=TIMEOUT)
    expect(card).to_contain_text("Files “Safari login fails”")
    assert len(live_fake_api.message_requests) == sent + 1  # nothing more goes out while it waits
    assert serious_violations(page) == []
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "connectors-approval-1280.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "connectors-approval-1280-dark.png"), full_page=True)

    card.get_by_role("button", name="Approve").click()
    expect(card.get_by_role("status")).to_have_text("Approved")
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    expect(reply).to_contain_text("Created #13")
    expect(reply).to_contain_text("Filed #13.")
    configs = next(
        t for t in live_fake_api.message_requests[-1].body["tools"] if t.get("type") == "mcp_toolset"
    )
    assert configs["configs"]["create_issue"] == {"enabled": True}
    page.context.close()

    # On a phone: Deny, with a reason Claude reads.
    phone = signed_in(
        browser, live_app, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, axe=True
    )
    phone.goto(chat_url)
    live_fake_api.enqueue(ask("toolu_second", "Safari login fails again"), Reply("Not filed, as you asked."))
    reply = send_message(phone, "File it again")
    card = reply.get_by_role("region", name="Approval request")
    expect(card.get_by_role("button", name="Deny")).to_be_visible(timeout=TIMEOUT)
    phone.screenshot(path=str(SHOTS / "connectors-approval-390.png"), full_page=True)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width} px)"
    phone.emulate_media(color_scheme="dark")
    phone.screenshot(path=str(SHOTS / "connectors-approval-390-dark.png"), full_page=True)
    card.get_by_label("Reason if you deny").fill("It is a duplicate of #13")
    card.get_by_role("button", name="Deny").click()
    expect(card.get_by_role("status")).to_have_text("Denied: It is a duplicate of #13")
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    result = live_fake_api.message_requests[-1].body["messages"][-1]["content"][0]
    assert result["is_error"] is True and "It is a duplicate of #13" in result["content"]
    phone.context.close()
