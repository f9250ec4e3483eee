"""Plain functions the test modules share; the fixtures are in conftest.py."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anthropic
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfWriter

from conversations import services
from conversations.live import realtime
from conversations.models import ApiCall, ContentBlock, Conversation, Message
from conversations.reply import generation
from conversations.routing import websocket_urlpatterns

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from fakes import FakeAnthropic
    from tests.live import LiveApp

LONG_TEXT = " ".join(f"word{i}" for i in range(60))


# --- waiting on a condition, never on the clock ------------------------------------------------


def wait_until(condition: Callable[[], Any], *, timeout: float = 10, what: str = "the condition") -> Any:
    """Call `condition` until it returns something truthy, and return that; fail after `timeout`
    seconds. For a test that waits on another process (a sleep assumes how fast it is)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)
    return value


async def eventually(
    condition: Callable[[], Any], *, timeout: float = 10, what: str = "the condition"
) -> Any:
    """`wait_until` on the event loop: the reply and the sockets run while it waits. `condition`
    may return an awaitable (a query), whose result counts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert loop.time() < deadline, f"waited {timeout} s for {what}"
        await asyncio.sleep(0.02)


def clear_cache() -> None:
    """Empty this run's cache. On Redis only this run's keys (its REDIS_PREFIX): with pytest-xdist
    the workers share one Redis database, and Django's clear() would flush the other's sessions."""
    from django.conf import settings
    from django.core.cache import cache

    if not settings.REDIS_URL:
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
    if keys:
        client.delete(*keys)


# --- a reply against the fake Messages API -----------------------------------------------------


def add_blocks(message: Message, payloads: list[dict], start: int = 0) -> None:
    """Store API-shaped blocks on a message, from index `start`."""
    for index, payload in enumerate(payloads, start=start):
        ContentBlock.objects.create(message=message, index=index, type=payload["type"], payload=payload)


def finish(reply: Message, *blocks: dict, **fields) -> Message:
    """A reply that ended with these blocks (stored as they are)."""
    add_blocks(reply, list(blocks))
    Message.objects.filter(pk=reply.pk).update(status="complete", stop_reason="end_turn", **fields)
    reply.refresh_from_db()
    return reply


async def start_chat(user, text: str = "Hello", model: str = "m") -> tuple[Conversation, Message]:
    """A new conversation and its streaming reply, not started."""
    return await sync_to_async(services.conversation_start)(user=user, text=text, model=model)


async def run_to_end(reply: Message) -> Message:
    """Generate `reply` until it ends; the stored row."""
    generation.start(reply)
    await generation.wait_all()
    return await reload(reply)


async def run_reply(user, text: str = "Question", model: str = "claude-sonnet-4-6"):
    """A new conversation whose first reply has run to its end: (conversation, stored reply)."""
    conversation, reply = await start_chat(user, text, model)
    return conversation, await run_to_end(reply)


async def send(conversation: Conversation, text: str) -> Message:
    """Send `text` in `conversation` and run the reply to its end; the stored reply."""
    _, reply = await sync_to_async(services.message_send)(conversation=conversation, text=text)
    return await run_to_end(reply)


def streamed_text(reply: Message) -> str:
    """The text of a reply streaming in this process so far, as a tab joining now would get it
    (its snapshot); "" before it starts or once it ended."""
    live = realtime.live_reply(reply.pk, reply.conversation_id)
    return "".join(block[2] for block in live.snapshot()[3]) if live else ""


async def reload(message: Message) -> Message:
    return await Message.objects.aget(pk=message.pk)


async def payloads(reply: Message) -> list[dict]:
    return [b.payload async for b in ContentBlock.objects.filter(message=reply).order_by("index")]


async def stored_text(message: Message) -> str:
    return "".join(payload.get("text", "") for payload in await payloads(message))


# --- the conversation websocket ----------------------------------------------------------------


async def open_socket(user, path: str) -> WebsocketCommunicator:
    """The websocket at `path` (a conversation's, or the New chat page's), connected as `user`."""
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def connect(user, conversation_id: int) -> WebsocketCommunicator:
    return await open_socket(user, f"/ws/c/{conversation_id}/")


async def next_frame(ws, kinds: str) -> list:
    """The next frame of one of these kinds (stream frames of other replies are skipped); "an":
    a send's answer, accepted or refused."""
    while True:
        frame = json.loads(await ws.receive_from(timeout=10))
        if frame[0] in kinds:
            return frame


async def frames_until_end(communicator, message_id: int, timeout: float = 10) -> list[list]:
    """Every frame the socket receives up to and including the end frame of `message_id`."""
    frames = []
    while True:
        frame = json.loads(await communicator.receive_from(timeout=timeout))
        frames.append(frame)
        if frame[0] == "e" and frame[1] == message_id:
            return frames


# --- stored data -------------------------------------------------------------------------------


def reply_with_usage(
    conversation: Conversation, *, days_ago=0, model="claude-sonnet-4-6", status="complete", **usage
) -> Message:
    """A finished reply with the given token counts and cost, made `days_ago` days ago."""
    message = Message.objects.create(
        conversation=conversation, role="assistant", status=status, model=model, **usage
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return message


def chat_with_usage(
    user, text: str, *, days_old: int, prompt=None, image: bytes | None = None
) -> Conversation:
    """A finished exchange with a priced reply and its title call, last touched `days_old` days ago."""
    files = [services.attachment_store(user=user, name="a.png", data=image)] if image else []
    version = prompt.latest if prompt else None
    conversation, reply = services.conversation_start(
        user=user, text=text, model="claude-sonnet-4-6", prompt_version=version, attachments=files
    )
    ContentBlock.objects.create(
        message=reply, index=0, type="text", payload={"type": "text", "text": "Secret"}
    )
    Message.objects.filter(pk=reply.pk).update(
        status="complete", input_tokens=1000, output_tokens=200, cost=Decimal("0.0060"), error="boom"
    )
    ApiCall.objects.create(
        kind="title",
        user=user,
        team=prompt.team if prompt else None,
        conversation=conversation,
        model="claude-haiku-4-5",
        input_tokens=300,
        output_tokens=5,
        cost=Decimal("0.000325"),
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - timedelta(days=days_old),
        title=text[:60],
        params={"stop_sequences": ["x"]},
    )
    return conversation


def image_bytes(width=64, height=48, fmt="PNG", mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (200, 100, 50) if mode == "RGB" else None).save(out, fmt, **save)
    return out.getvalue()


def pdf_bytes(pages: int = 1, password: str | None = None) -> bytes:
    """A PDF of blank pages, encrypted when given a password."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 200)
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- pages -------------------------------------------------------------------------------------

# axe-core, vendored (tests/test_browser_layout.py pins its version): the accessibility checks.
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def serious_violations(page: Page) -> list:
    """What axe finds serious or critical on the page as it is: [[rule, first targets], ...]."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => [v.id, v.nodes.slice(0, 3).map(n => n.target.join(" "))])"""
    )


def as_user(client, people: dict, who: str):
    """The test client signed in as `people[who]`, or anonymous."""
    if who != "anonymous":
        client.force_login(people[who])
    return client


def open_transcript(client, conversation: Conversation):
    """Staff open a conversation's transcript for review, giving the reason the audit row keeps."""
    return client.post(reverse("review_transcript", args=[conversation.pk]), {"reason": "ticket 7"})


# (app url, user) -> the cookies of a sign-in through the form: later sign-ins of that user to that
# app take them instead of the form (about a second each, a test signs in a dozen times).
_signed_in_cookies: dict[tuple[str, str], list] = {}


def login(page: Page, app: LiveApp, user: str = "alice") -> None:
    """Sign in to the live app in a real browser, landing where the login form lands (home: the
    latest chat, or a new one). The first time through the login page; then with that session's
    cookies, unless the session ended (a log out, a deactivation): then through the page again."""
    key = (app.url, user)
    if key in _signed_in_cookies:
        page.context.add_cookies(_signed_in_cookies[key])
        page.goto(f"{app.url}/")
        if "/accounts/login/" not in page.url:
            return
    page.goto(f"{app.url}/accounts/login/")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(app.users[user])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    _signed_in_cookies[key] = page.context.cookies(app.url)


def sdk_client(fake: FakeAnthropic, max_retries: int = 0) -> anthropic.AsyncAnthropic:
    """The real SDK's client, pointed at a fake API (`fake`, tests/conftest.py, or `fake_api`)."""
    return anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="test", max_retries=max_retries)


def signed_in(browser: Browser, app: LiveApp, user: str = "alice", *, axe: bool = False, **options) -> Page:
    """A page of a new browser context (`options`: viewport, color scheme, ...), signed in as
    `user`. `axe`: the CSP off, for axe's injected script only; otherwise the page runs under the
    app's own CSP, as people's browsers do."""
    context = browser.new_context(bypass_csp=axe, **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    login(page, app, user)
    return page
