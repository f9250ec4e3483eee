# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for team prompts and attachments."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from fakes import FakeAnthropic, Reply
from tests.helpers import signed_in
from tests.live import LiveApp, live_app, live_fake_api, open_new_chat, send_message  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


def test_team_prompt_is_pinned_per_conversation(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    editor = signed_in(browser, live_app, "alice")
    editor.goto(f"{live_app.url}/teams/")
    editor.get_by_label("Team name").fill("Support")
    editor.get_by_role("button", name="Create team").click()
    editor.get_by_label("Username or email").fill("bob")
    editor.get_by_role("button", name="Add member").click()
    expect(editor.get_by_role("cell", name="bob", exact=True)).to_be_visible()

    editor.goto(f"{live_app.url}/prompts/new/")
    editor.get_by_label("Name").fill("Support tone")
    editor.get_by_label("Prompt").fill("Answer calmly.")
    editor.get_by_label("Team").select_option(label="Support")
    editor.get_by_role("button", name="Save").click()
    expect(editor.get_by_role("heading", name="Support tone")).to_be_visible()

    member = signed_in(browser, live_app, "bob")
    open_new_chat(member)
    member.get_by_label("System prompt").select_option(label="Support tone (Support)")
    reply = send_message(member, "Hello support", click=True)
    member.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    expect(member.locator(".prompt-badge")).to_contain_text("Support tone · v1")
    assert live_fake_api.message_requests[-1].body["system"][0]["text"] == "Answer calmly."
    old_chat = member.url

    editor.get_by_role("link", name="Edit").click()
    editor.get_by_label("Prompt").fill("Answer calmly and briefly.")
    editor.get_by_role("button", name="Save").click()
    expect(editor.locator("#v2")).to_be_visible()

    member.goto(old_chat)
    expect(member.locator(".prompt-badge")).to_contain_text("Support tone · v1")
    expect(member.locator(".prompt-badge")).to_contain_text("v2 available")
    reply = send_message(member, "Still there?", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    # Nothing switched.
    assert live_fake_api.message_requests[-1].body["system"][0]["text"] == "Answer calmly."


def png_file(tmp_path, name="chart.png"):
    path = tmp_path / name
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 120, 200)).save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def test_attach_an_image_and_get_a_reply(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic, tmp_path
) -> None:
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("I see a blue rectangle."))
    page = signed_in(browser, live_app, "alice")
    open_new_chat(page)
    page.get_by_label("Attach files").set_input_files(png_file(tmp_path))
    expect(page.locator(".attachment img")).to_be_visible()
    reply = send_message(page, "What is in this picture?", click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("[data-role=user] img.thumb")).to_be_visible()
    expect(reply).to_contain_text("I see a blue rectangle.", timeout=TIMEOUT)
    content = live_fake_api.message_requests[-1].body["messages"][0]["content"]
    assert [block["type"] for block in content] == ["image", "text"]
    # The thumbnail loads through the auth-checked view.
    assert page.locator("[data-role=user] img.thumb").evaluate("img => img.naturalWidth") == 320


def test_a_bad_file_shows_an_error_and_keeps_the_text(browser, live_app: LiveApp, tmp_path) -> None:
    page = signed_in(browser, live_app, "alice")
    open_new_chat(page)
    page.get_by_label("Message").fill("Please read this")
    fake_png = tmp_path / "notes.png"
    fake_png.write_text("this is not an image")
    page.get_by_label("Attach files").set_input_files(fake_png)
    expect(page.locator(".attachment.failed")).to_contain_text(
        "notes.png: not a JPEG, PNG, GIF, WebP, PDF or plain text"
    )
    expect(page.get_by_label("Message")).to_have_value("Please read this")
    page.get_by_role("button", name="Remove notes.png").click()
    expect(page.locator(".attachment")).to_have_count(0)


def test_staff_dashboard_transcript_review_and_audit_log(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("Here is the contract summary."))
    user = signed_in(browser, live_app, "alice")
    open_new_chat(user)
    reply = send_message(user, "Summarise the contract", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)

    live_app.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_superuser('root', 'root@example.com', 'root-pass-123')",
    )
    live_app.users["root"] = "root-pass-123"
    staff = signed_in(browser, live_app, "root")
    staff.goto(f"{live_app.url}/usage/")
    expect(staff.locator("svg.chart rect").first).to_be_attached()
    expect(staff.get_by_role("cell", name="alice", exact=True)).to_be_visible()
    staff.get_by_role("link", name="Summarise the contract").click()
    staff.get_by_label("Reason (optional)").fill("ticket 77")
    staff.get_by_role("button", name="Open transcript").click()
    expect(staff.locator("[data-role=assistant]")).to_contain_text("Here is the contract summary.")

    staff.goto(f"{live_app.url}/admin/review/transcriptview/")
    expect(staff.get_by_text("ticket 77")).to_be_visible()
    user.goto(f"{live_app.url}/account/reviews/")
    expect(user.get_by_text("ticket 77")).to_be_visible()


def test_a_tool_call_and_its_result_show_in_the_conversation(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
):
    live_fake_api.reset()
    live_fake_api.enqueue(
        Reply(
            "Let me calculate.",
            tool_use={"id": "toolu_9", "name": "calculator", "input": {"expression": "6 * 7"}},
            stop_reason="tool_use",
        ),
        Reply("It is 42."),
    )
    page = signed_in(browser, live_app, "alice")
    open_new_chat(page)
    reply = send_message(page, "What is 6 times 7?", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    expect(reply.locator(".block-tool summary")).to_have_text("Tool call: calculator")
    expect(reply.locator(".block-tool pre")).to_contain_text('"expression": "6 * 7"')
    expect(reply.locator(".block-tool-result pre")).to_have_text("42")
    expect(reply).to_contain_text("It is 42.")
    page.reload()
    expect(page.locator("[data-role=assistant] .block-tool-result pre")).to_have_text("42")
