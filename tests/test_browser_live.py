# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""The live path in the browser: sends take the open websocket (a new chat becomes its
conversation without a page load, a follow-up goes out without an HTTP request), and markdown
renders as each block closes while the reply streams, and does not restyle when it ends."""

import io
import json
import re
import signal
import subprocess
import time

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from fakes import Reply
from tests.helpers import login, wait_until
from tests.live import (  # noqa: F401 (pytest fixtures)
    ASSISTANT,
    PYTHON,
    ROOT,
    LiveApp,
    live_app,
    live_fake_api,
    open_new_chat,
    send_message,
)

pytestmark = pytest.mark.browser


def test_a_new_chat_and_a_follow_up_go_over_the_socket(page: Page, live_app: LiveApp, live_fake_api):
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("First answer."), Reply("Second answer."))
    login(page, live_app)
    open_new_chat(page)
    expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.evaluate("window.stillTheSamePage = true")

    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Open a new chat")
    composer.press("Enter")
    expect(page.locator("[data-role=assistant]")).to_have_attribute("data-status", "complete")
    assert "First answer." in page.locator("[data-role=assistant] .blocks").inner_text()
    assert re.search(r"/c/\d+/$", page.url), page.url
    assert page.evaluate("window.stillTheSamePage") is True, "the page reloaded"
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a new chat")
    expect(page.locator(".conversation-list a[aria-current=page]")).to_have_text("Open a new chat")
    expect(composer).to_have_value("")

    composer.fill("And a follow-up")
    composer.press("Enter")
    expect(page.locator("[data-role=assistant]").nth(1)).to_have_attribute("data-status", "complete")
    assert "Second answer." in page.locator("[data-role=assistant]").nth(1).inner_text()
    assert posts == [], f"sends went over HTTP: {posts}"

    page.reload()  # what streamed is what is stored
    expect(page.locator("[data-role=user]")).to_have_count(2)
    assert "Second answer." in page.locator("[data-role=assistant]").nth(1).inner_text()


# Every WebSocket a page makes is held (CONNECTING) until the test calls releaseSockets(): only
# then is the real socket made, as on a slow link or a busy server. The page's frames are noted.
HOLD_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  const held = [];
  window.socketFrames = [];
  window.sockets = [];
  window.socketsHeld = true;
  window.releaseSockets = () => { window.socketsHeld = false; held.splice(0).forEach((open) => open()); };
  class HeldSocket extends EventTarget {
    constructor(url, protocols) {
      super();
      window.sockets.push(this);
      this.url = url;
      this.readyState = HeldSocket.CONNECTING;
      const open = () => {
        const ws = (this.ws = new Native(url, protocols));
        ws.onopen = () => { this.readyState = HeldSocket.OPEN; this.dispatchEvent(new Event("open")); };
        ws.onmessage = (e) => this.dispatchEvent(new MessageEvent("message", { data: e.data }));
        ws.onerror = () => this.dispatchEvent(new Event("error"));
        ws.onclose = (e) => {
          this.readyState = HeldSocket.CLOSED;
          const { code, reason, wasClean } = e;
          this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean }));
        };
      };
      if (window.socketsHeld) held.push(open); else open();
    }
    send(data) {
      if (this.readyState !== HeldSocket.OPEN) throw new DOMException("Not open", "InvalidStateError");
      window.socketFrames.push(JSON.parse(data).type);
      this.ws.send(data);
    }
    close(code, reason) { if (this.ws) this.ws.close(code, reason); }
  }
  Object.assign(HeldSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = HeldSocket;
})();
"""


def test_a_send_right_after_the_page_loads_waits_for_the_socket(page: Page, live_app: LiveApp, live_fake_api):
    """Sent the instant the page is usable, before its socket is up (as on a continued share
    opened and answered at once): queued, then sent over the socket when it opens, once."""
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("First answer."), Reply("Second answer."))
    login(page, live_app)
    open_new_chat(page)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Start")
    composer.press("Enter")
    expect(page.locator("[data-role=assistant]")).to_have_attribute("data-status", "complete")

    page.add_init_script(HOLD_SOCKETS)
    page.reload()
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    composer.fill("Right away")
    composer.press("Enter")
    assert page.locator("#messages").get_attribute("data-socket") != "open"  # sent before it opened
    page.evaluate("releaseSockets()")  # held until now, however long the page took to load

    replies = page.locator("[data-role=assistant]")
    expect(replies).to_have_count(2, timeout=15_000)
    expect(replies.nth(1)).to_have_attribute("data-status", "complete")
    assert "Second answer." in replies.nth(1).inner_text()
    expect(page.locator("[data-role=user]")).to_have_count(2)
    assert posts == [], f"the send went over HTTP: {posts}"
    page.reload()  # stored once
    expect(page.locator("[data-role=user]")).to_have_count(2)
    expect(page.locator("[data-role=assistant]")).to_have_count(2)


def test_stop_pressed_before_the_socket_opens_stops_the_reply(page: Page, live_app: LiveApp, live_fake_api):
    """A page opened on a streaming reply shows Stop at once; pressed before the socket is up, the
    stop is sent when it opens (it used to throw, and the reply streamed on)."""
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(" ".join(f"word{i}" for i in range(600)), tokens_per_second=40))
    login(page, live_app)
    open_new_chat(page)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Count slowly")
    composer.press("Enter")
    reply = page.locator("[data-role=assistant]")
    expect(reply).to_have_attribute("data-status", "streaming")

    page.add_init_script(HOLD_SOCKETS)
    page.reload()
    expect(reply).to_have_attribute("data-status", "streaming")
    page.get_by_role("button", name="Stop").click()
    assert page.evaluate("window.socketFrames") == []  # not sent: the socket is still opening
    page.evaluate("releaseSockets()")
    expect(reply).to_have_attribute("data-status", "stopped", timeout=10_000)
    assert page.evaluate("window.socketFrames").count("stop") == 1
    text = reply.locator(".blocks").inner_text()
    assert text.startswith("word0") and "word599" not in text
    page.reload()  # stored as stopped
    expect(reply).to_have_attribute("data-status", "stopped")


def test_a_refused_send_over_the_socket_keeps_the_text(page: Page, live_app: LiveApp, live_fake_api):
    live_fake_api.reset()
    login(page, live_app)
    open_new_chat(page)
    expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("bad\u0000text")
    composer.press("Enter")
    expect(page.locator("#composer-error")).to_contain_text("Null characters are not allowed.")
    expect(composer).to_have_value("bad\u0000text")


REPLY = (
    "## Plan\n\nFirst **bold** and *soft* words.\n\n- one\n- two\n\n"
    "```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nAfter the table.\n\n"
    + "And more. "
    * 40
)
STREAMING = "[data-role=assistant][data-status=streaming]"


def test_blocks_render_mid_stream_and_stay_as_they_were(page: Page, live_app: LiveApp, live_fake_api):
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(REPLY, tokens_per_second=40))
    login(page, live_app)
    open_new_chat(page)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Make a plan")
    composer.press("Enter")

    expect(page.locator(f"{STREAMING} h2")).to_have_text("Plan")
    expect(page.locator(f"{STREAMING} strong")).to_have_text("bold")
    expect(page.locator(f"{STREAMING} ul li")).to_have_count(2)
    expect(page.locator(f"{STREAMING} pre code .nb")).to_have_text("print")  # highlighted
    expect(page.locator(f"{STREAMING} table td").first).to_have_text("1")
    assert "##" not in page.locator(f"{STREAMING} .blocks").inner_text()
    expect(page.locator(f"{STREAMING} .blocks")).to_contain_text("After the table")  # the table is done
    rendered = "h2, p, ul, pre, table"
    during = (
        page.locator(f"{STREAMING} .blocks")
        .locator(rendered)
        .evaluate_all("els => els.slice(0, 5).map(el => el.outerHTML)")
    )
    expect(page.locator("[data-role=assistant]")).to_have_attribute("data-status", "complete")
    after = (
        page.locator("[data-role=assistant] .blocks")
        .locator(rendered)
        .evaluate_all("els => els.slice(0, 5).map(el => el.outerHTML)")
    )
    assert after == during


# Every change to a streaming reply's text, as the reader saw it: the words outside code, and
# the block's HTML with the open part's wrapper left out (it lays out as if it were not there).
WATCH_TEXT = """
(() => {
  window.seen = [];
  new MutationObserver(() => {
    const block = document.querySelector('[data-role=assistant][data-status=streaming] .block-text');
    if (!block) return;
    const copy = block.cloneNode(true);
    copy.querySelectorAll("pre, code, button").forEach((el) => el.remove());
    const open = block.querySelector(".streaming-text");
    const html = open ? block.innerHTML.replace(open.outerHTML, open.innerHTML) : block.innerHTML;
    window.seen.push([copy.textContent, html]);
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""
SYNTAX = re.compile(r"\*\*|__|~~|`|\]\(|\[|\]|(^|\n)\s*(#|[-*+] |\d+\. |>)|\||---")


def test_no_markdown_syntax_shows_while_a_reply_streams(page: Page, live_app: LiveApp, live_fake_api):
    text = (
        "## Overview\n\nA **bold** claim, *soft* words, a `span` and [a link](https://example.com).\n\n"
        "- first point\n- second **point**\n\nA paragraph after the list.\n\n"
        "| Name | Value |\n|------|------:|\n| alpha | 1 |\n| beta | 22 |\n\n"
        "```python\nprint('hi')\n```\n\nThe end."
    )
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(text, tokens_per_second=30))
    page.add_init_script(WATCH_TEXT)
    login(page, live_app)
    open_new_chat(page)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Overview, please")
    composer.press("Enter")
    reply = page.locator("[data-role=assistant]")
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)

    seen = page.evaluate("window.seen")
    assert len(seen) > 20, seen  # it was watched while it streamed, change by change
    shown = [words for words, _ in seen if SYNTAX.search(words)]
    assert shown == [], f"syntax on screen: {shown[:3]}"
    assert "A paragraph after" in seen[-1][0]  # the open block showed, rendered, before it closed
    final = reply.locator(".block-text").evaluate("el => el.innerHTML")
    assert seen[-1][1] == final  # the stream's last state is the stored page: nothing restyles


def test_send_turns_into_stop_and_escape_stops_with_focus_back(page: Page, live_app: LiveApp, live_fake_api):
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("slow words " * 100, tokens_per_second=10))
    login(page, live_app)
    open_new_chat(page)
    composer = page.get_by_role("textbox", name="Message")
    expect(composer).to_have_attribute("placeholder", re.compile(r"^Message Claude .+…$"))
    composer.fill("Take your time")
    composer.press("Enter")
    expect(page.locator("[data-role=assistant] .blocks")).to_contain_text("slow words")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("[data-role=assistant]")).to_have_attribute("data-status", "stopped")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(composer).to_be_focused()


def test_a_send_during_an_upload_waits_for_it_and_a_refused_file_blocks_it(
    page: Page, live_app: LiveApp, live_fake_api, tmp_path
):
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("A blue picture."), Reply("Just text."))
    login(page, live_app)
    open_new_chat(page)
    with page.expect_file_chooser() as chooser:
        page.locator(".attach-button").click()  # the paperclip opens the picker
    assert chooser.value.is_multiple()

    picture = tmp_path / "blue.png"
    out = io.BytesIO()
    Image.new("RGB", (64, 40), (30, 120, 200)).save(out, "PNG")
    picture.write_bytes(out.getvalue())
    held = []  # the upload's request, held until the send is seen waiting for it
    page.route("**/attachments/", lambda route: held.append(route))
    page.get_by_label("Attach files").set_input_files(picture)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("What is this?")
    composer.press("Enter")  # while the upload is still running
    expect(page.locator("#send-button")).to_have_text("Sending after upload…")
    while not held:
        page.wait_for_timeout(20)
    expect(page.locator("[data-role=user]")).to_have_count(0)
    held[0].continue_()
    expect(page.locator("[data-role=assistant]")).to_contain_text("A blue picture.")
    content = live_fake_api.message_requests[-1].body["messages"][-1]["content"]
    assert [block["type"] for block in content] == ["image", "text"]
    page.unroute("**/attachments/")

    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    page.get_by_label("Attach files").set_input_files(bad)
    expect(page.locator(".attachment.failed")).to_contain_text("notes.png")
    composer.fill("And this?")
    composer.press("Enter")
    expect(page.locator("#composer-error")).to_contain_text("A file was refused")
    expect(page.locator("[data-role=user]")).to_have_count(1)
    page.get_by_role("button", name="Remove notes.png").click()
    composer.press("Enter")
    expect(page.locator("[data-role=assistant]").nth(1)).to_contain_text("Just text.")
    expect(composer).to_have_value("")


# A fake Messages API in its own process, so the test can kill it mid-reply (as in test_faults).
UPSTREAM = """
import time
from fakes import FakeAnthropic, Reply
with FakeAnthropic() as fake:
    fake.enqueue(Reply(" ".join(f"w{i}" for i in range(400)), tokens_per_second=40))
    print(fake.base_url, flush=True)
    time.sleep(120)
"""


def test_a_killed_model_server_shows_an_error_within_seconds(page: Page):
    """The model server dies mid-reply: the text so far stays, and the error naming the server
    shows with Retry within 5 s, not after the stall timeout."""
    upstream = subprocess.Popen([PYTHON, "-c", UPSTREAM], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    app = None
    try:
        base_url = upstream.stdout.readline().strip()
        app = LiveApp({"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": "test-key"}).start()
        login(page, app)
        open_new_chat(page)
        composer = page.get_by_role("textbox", name="Message")
        composer.fill("Tell me a long story")
        composer.press("Enter")
        reply = page.locator("[data-role=assistant]")
        expect(reply).to_contain_text("w3")
        upstream.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        expect(reply.get_by_role("alert")).to_contain_text("the Claude API", timeout=5_000)
        shown = time.monotonic() - killed
        expect(reply.get_by_role("button", name="Retry")).to_be_visible()
        assert "w3" in reply.inner_text(), "the text shown before the fault is kept"
        print(f"\nmodel server killed -> error on screen: {shown * 1000:.0f} ms")
    finally:
        upstream.kill()
        if app:
            app.stop()


SHARED_CHAT = """
from django.contrib.auth import get_user_model
from conversations.models import ContentBlock, Conversation, Message
from conversations.rendering import render_markdown_blocks
from conversations.library.sharing import share_create
from teams.services import member_add, team_create

alice = get_user_model().objects.get(username="alice")
team = team_create(user=alice, name="Night shift")
member_add(team=team, identifier="bob", role="member")
c = Conversation.objects.create(owner=alice, title="Handover", model="claude-sonnet-4-6")
q = Message.objects.create(conversation=c, role="user")
question = {"type": "text", "text": "What is open?"}
ContentBlock.objects.create(message=q, index=0, type="text", payload=question)
r = Message.objects.create(conversation=c, parent=q, role="assistant", model="claude-sonnet-4-6")
ContentBlock.objects.create(message=r, index=0, type="text", payload={"type": "text", "text": "Two tickets."},
                            rendered=render_markdown_blocks("Two tickets."))
print(share_create(conversation=c, team=team).pk)
"""


def shell(app: LiveApp, code: str) -> str:
    """What `manage.py shell -c code` prints, in the live app's own database."""
    return app.shell(code).splitlines()[-1]


@pytest.fixture(scope="module")
def share(live_app: LiveApp) -> int:
    """alice's conversation, shared with a team bob is in."""
    return int(shell(live_app, SHARED_CHAT))


@pytest.mark.parametrize("socket_opens", ["soon", "after-the-fallback"])
def test_a_send_the_instant_a_continued_share_opens_completes_once(
    browser, live_app: LiveApp, live_fake_api, share: int, socket_opens: str
):
    """A send made before the page's socket is up is not lost and not doubled: it goes over the
    socket once it opens ("soon"), or by POST if it does not open in time. The POST's answer is
    held here until the reply has ended on the server and the socket has opened: the page then
    learns of the reply from that answer alone, the race that once left a reply streaming."""
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("Both are mine now."))
    context = browser.new_context()
    context.set_default_timeout(15_000)
    context.add_init_script(HOLD_SOCKETS)
    page = context.new_page()
    try:
        login(page, live_app, "bob")
        page.goto(f"{live_app.url}/shared/{share}/")
        page.get_by_role("button", name="Continue in my chats").click()
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        url = page.url
        page.wait_for_load_state("load")  # chat.js has run: its socket is being opened (and held)
        posts = []

        def ended_on_the_server() -> bool:
            return page.request.get(url).text().count('data-status="complete"') == 2

        def answer_late(route) -> None:
            response = route.fetch()
            posts.append(route.request.url)
            try:
                wait_until(ended_on_the_server, timeout=30, what="the reply to end on the server")
                page.evaluate("releaseSockets()")
                # A function: a bare expression is evaluated again on each poll, which the CSP refuses.
                page.wait_for_function("() => document.getElementById('messages').dataset.socket === 'open'")
            finally:
                route.fulfill(response=response)

        page.route("**/send/", answer_late)
        page.get_by_role("textbox", name="Message").fill("I'll take both")
        page.get_by_role("button", name="Send").click()
        if socket_opens == "soon":
            page.evaluate("releaseSockets()")

        replies = page.locator(ASSISTANT)
        expect(replies).to_have_count(2)
        reply = page.locator(f"#{replies.nth(1).get_attribute('id')}")
        expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
        expect(reply).to_contain_text("Both are mine now.")
        expect(page.locator("[data-role=user]")).to_have_count(2)
        sent = page.evaluate("window.socketFrames").count("send")
        assert (sent, len(posts)) == ((1, 0) if socket_opens == "soon" else (0, 1)), (sent, posts)

        conversation = url.rstrip("/").rsplit("/", 1)[1]
        stored = shell(
            live_app,
            "import json; from conversations.models import Message; print(json.dumps(list("
            f"Message.objects.filter(conversation_id={conversation}).values_list('role', 'status'))))",
        )
        assert sorted(map(tuple, json.loads(stored))) == [
            ("assistant", "complete"),
            ("assistant", "complete"),
            ("user", "complete"),
            ("user", "complete"),
        ]
        page.reload()
        expect(page.locator("[data-role=user]")).to_have_count(2)
        expect(page.locator(ASSISTANT)).to_have_count(2)
    finally:
        context.close()


# The server's answer to a resync that came before the reply's run had started: the reply as
# stored, still streaming, as an end frame; its seq is gone, so the page waits for a snapshot.
NOT_LIVE_YET = """(id) => {
    const stored = document.getElementById("message-" + id).cloneNode(true);
    stored.removeAttribute("data-seq");
    stored.querySelector(".blocks").innerHTML = "";
    const frame = JSON.stringify(["e", id, 0, stored.outerHTML]);
    window.sockets.at(-1).dispatchEvent(new MessageEvent("message", { data: frame }));
    const now = document.getElementById("message-" + id);
    return [now.dataset.seq === undefined, now.querySelector(".blocks").textContent];
}"""


def test_a_reply_whose_run_had_not_started_at_a_resync_streams_on(
    page: Page, live_app: LiveApp, live_fake_api
):
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(" ".join(f"w{i}" for i in range(300)), tokens_per_second=30))
    page.context.add_init_script(HOLD_SOCKETS)
    login(page, live_app)
    open_new_chat(page)
    page.evaluate("releaseSockets()")
    expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
    reply = send_message(page, "Count for me")
    expect(reply).to_contain_text("w5 ")
    assert page.evaluate(NOT_LIVE_YET, int(reply.get_attribute("data-message"))) == [True, ""]
    # It asks again, gets a snapshot, and streams on: later words show before the end.
    page.wait_for_function(
        """(id) => {
            const el = document.getElementById("message-" + id);
            return el.dataset.status === "streaming" && el.innerText.includes("w60 ");
        }""",
        arg=int(reply.get_attribute("data-message")),
        timeout=15_000,
    )
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(reply).to_contain_text("w299")
