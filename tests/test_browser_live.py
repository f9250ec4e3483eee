# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""The live path in the browser: sends take the open websocket (a new chat becomes its
conversation without a page load, a follow-up goes out without an HTTP request), and markdown
renders as each block closes while the reply streams, and does not restyle when it ends."""

import io
import re
import signal
import subprocess
import time

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from fakes import Reply
from tests.helpers import login
from tests.live import PYTHON, ROOT, LiveApp, live_app, live_fake_api, open_new_chat  # noqa: F401 (pytest fixtures)

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


# The page's first websocket opens only after `ms` (a slow link, a busy server): until then it is
# CONNECTING, as a real socket is; events and sends pass through once the real one exists.
SLOW_SOCKET = """
(() => {
  const Real = window.WebSocket;
  let first = true;
  function Slow(url) {
    if (!first) return new Real(url);
    first = false;
    const socket = new EventTarget();
    let real = null;
    Object.defineProperty(socket, "readyState", { get: () => (real ? real.readyState : Real.CONNECTING) });
    socket.send = (data) => real.send(data);
    socket.close = (...args) => (real ? real.close(...args) : undefined);
    setTimeout(() => {
      real = new Real(url);
      const pass = (type, copy) => real.addEventListener(type, (e) => socket.dispatchEvent(copy(e)));
      pass("open", () => new Event("open"));
      pass("message", (e) => new MessageEvent("message", { data: e.data }));
      pass("close", (e) => new CloseEvent("close", { code: e.code, reason: e.reason }));
    }, %d);
    return socket;
  }
  Object.assign(Slow, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Slow;
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

    page.add_init_script(SLOW_SOCKET % 1500)
    page.reload()
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    composer.fill("Right away")
    composer.press("Enter")
    assert page.locator("#messages").get_attribute("data-socket") != "open"  # sent before it opened

    replies = page.locator("[data-role=assistant]")
    expect(replies).to_have_count(2, timeout=15_000)
    expect(replies.nth(1)).to_have_attribute("data-status", "complete")
    assert "Second answer." in replies.nth(1).inner_text()
    expect(page.locator("[data-role=user]")).to_have_count(2)
    assert posts == [], f"the send went over HTTP: {posts}"
    page.reload()  # stored once
    expect(page.locator("[data-role=user]")).to_have_count(2)
    expect(page.locator("[data-role=assistant]")).to_have_count(2)


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
