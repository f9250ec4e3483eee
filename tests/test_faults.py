"""The fault matrix: each fault by name, what the user sees, and that nothing stored is lost.

One test per fault, `test_fault_<name>`, its docstring's first line the fault and the expected
experience. Each asserts what the user sees (the reply's status and message in the end frame or
the page, and Retry where it applies) and what is stored: the text shown before the fault is kept,
the user's message is stored, and nothing is stored twice. With `-s` each prints one line: what
the user saw, and how long it took.

Faults of the model server that end a reply must show as an error within seconds (never after the
stall timeout), naming the server: "the Claude API" or "the local model".

The faults across processes (a worker killed, Stop and two sends on two workers) run two daphne
workers on PostgreSQL and Redis (tests/cluster.py) and are marked `multiprocess`; everything else
runs on SQLite and on PostgreSQL with the Redis channel layer."""

import asyncio
import concurrent.futures
import contextlib
import io
import json
import logging
import signal
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

import tests.cluster as mp
from conversations import services
from conversations.live import consumers, runtime
from conversations.models import ContentBlock, Message
from conversations.reply import generation
from conversations.routing import websocket_urlpatterns
from fakes import Cut, HttpError, Reply, SSEError, Stall
from tests.cluster import cluster_fixture, fake_fixture, session_fixture  # noqa: F401 (fixtures)
from tests.helpers import (
    LONG_TEXT,
    connect,
    eventually,
    frames_until_end,
    reload,
    run_to_end,
    start_chat,
    stored_text,
    streamed_text,
    wait_until,
)
from tests.live import PYTHON, ROOT, app_env

pytestmark = pytest.mark.django_db(transaction=True)

FAIL_FAST = 5.0  # seconds from the fault to the error on screen
STILL_STREAMING = "A reply is still streaming in this conversation. Wait for it or press Stop."

# A fake Messages API in its own process, so the test can kill it mid-reply.
UPSTREAM = """
import sys, time
from fakes import FakeAnthropic, Reply
with FakeAnthropic() as fake:
    fake.enqueue(Reply(" ".join(f"w{i}" for i in range(400)), tokens_per_second=40))
    print(fake.base_url, flush=True)
    time.sleep(120)
"""


def report(fault: str, saw: str, seconds: float) -> None:
    """The one line per fault that `-s` shows."""
    print(f"\nFAULT {fault}: {saw} [{seconds * 1000:.0f} ms]")


@pytest.fixture
def upstream_process(settings):
    process = subprocess.Popen([sys.executable, "-c", UPSTREAM], stdout=subprocess.PIPE, text=True)
    base_url = process.stdout.readline().strip()
    settings.CHAT_STALL_TIMEOUT = 60  # longer than the default: failing fast must not depend on it
    yield process, base_url
    process.kill()
    process.wait()


def point_at(settings, base_url: str, *, local: bool) -> None:
    settings.CHAT_USE_LOCAL_MODEL = local
    settings.CHAT_LOCAL_MODEL_URL = base_url
    settings.ANTHROPIC_BASE_URL = "" if local else base_url
    settings.ANTHROPIC_API_KEY = "" if local else "test-key"
    settings.CHAT_API_MAX_RETRIES = 2


async def watch(user):
    conversation, reply = await sync_to_async(services.conversation_start)(user=user, text="Hi", model="m")
    ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/c/{conversation.pk}/")
    ws.scope["user"] = user
    assert (await ws.connect())[0]
    generation.start(reply)
    return ws, reply


async def until(ws, kind: str) -> list:
    while True:
        frame = json.loads(await ws.receive_from(timeout=FAIL_FAST * 4))
        if frame[0] == kind:
            return frame


async def open_tab(user, conversation_id: int) -> WebsocketCommunicator:
    """A tab whose socket is fully set up: the answer to a first control frame comes after the
    server's connect handler has run (a socket handles its messages one at a time)."""
    ws = await connect(user, conversation_id)
    await ws.send_json_to({"type": "resync", "message": 0})
    assert json.loads(await ws.receive_from(timeout=5)) == ["x", "No such reply in this conversation."]
    return ws


async def run_watched(user, question: str = "Question") -> tuple[Message, list[list], float]:
    """A new chat whose reply runs to its end with a tab watching: (stored reply, the tab's frames,
    seconds from the start to the end frame)."""
    conversation, reply = await start_chat(user, question)
    ws = await open_tab(user, conversation.pk)
    started = time.monotonic()
    generation.start(reply)
    frames = await frames_until_end(ws, reply.pk, timeout=15)
    seconds = time.monotonic() - started
    await ws.disconnect()
    await generation.wait_all()
    return await reload(reply), frames, seconds


def shown(frames: list[list]) -> str:
    """The reply's text as the tab received it."""
    return "".join(f[3] for f in frames if f[0] == "d")


async def assert_stored_once(reply: Message, question: str) -> None:
    """The user's message is stored, once, and answered by exactly this one reply."""
    messages = [m async for m in Message.objects.filter(conversation_id=reply.conversation_id)]
    asked = [m for m in messages if m.role == "user" and await stored_text(m) == question]
    assert len(asked) == 1, "the user's message is stored exactly once"
    assert [m.pk for m in messages if m.parent_id == asked[0].pk] == [reply.pk], "one reply, never two"


async def retry_from_the_page(fake_api, user, reply: Message, text: str = "Whole answer") -> Message:
    """Press Retry: the reply streams again in place of its old element and completes."""
    fake_api.enqueue(Reply(text))
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(reverse("retry_reply", args=[reply.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert f'data-message="{reply.pk}"' in response.content.decode()
    assert 'data-status="streaming"' in response.content.decode()
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete" and reply.error == ""
    assert await stored_text(reply) == text, "the retry replaces the partial text"
    return reply


# --- 1-3: the API answers with an HTTP error before the first byte -----------------------------


async def test_fault_rate_limited_429(fake_api, alice):
    """429 with retry-after: complete after the wait; when retries run out, a rate-limit error + Retry.

    The SDK honours retry-after before retrying; Retry on the failed reply then works."""
    fake_api.enqueue(HttpError(429, retry_after=0.3), Reply("Fine after the wait"))
    reply, frames, seconds = await run_watched(alice, "Busy?")
    first, second = fake_api.message_requests
    assert second.at - first.at >= 0.3, "retry-after is honoured"
    assert reply.status == "complete" and 'data-status="complete"' in frames[-1][3]
    assert shown(frames) == await stored_text(reply) == "Fine after the wait"
    await assert_stored_once(reply, "Busy?")
    report("429, then success", "the reply, complete, after the wait the API asked for", seconds)

    fake_api.reset()
    limited = HttpError(429, retry_after=0.05, request_id="req_limited")
    fake_api.enqueue(*[limited] * 3)  # the first try and CHAT_API_MAX_RETRIES = 2 retries
    reply, frames, seconds = await run_watched(alice, "Still busy?")
    assert len(fake_api.message_requests) == 3
    assert reply.status == "error" and reply.request_id == "req_limited"
    assert "The Claude API is rate limiting this instance; try again shortly" in reply.error
    end = frames[-1][3]
    assert 'data-status="error"' in end and reply.error in end and "req_limited" in end
    assert ">Retry<" in end and "Traceback" not in end
    assert await stored_text(reply) == ""
    await retry_from_the_page(fake_api, alice, reply)
    await assert_stored_once(reply, "Still busy?")
    report("429, retries run out", f"{reply.error!r} with Retry", seconds)


async def test_fault_overloaded_529(fake_api, alice):
    """529 (overloaded) before the first byte: retried by the SDK; the user sees the reply, complete."""
    started = time.monotonic()
    fake_api.enqueue(HttpError(529, retry_after=0), Reply("Fine now"))
    conversation, reply = await start_chat(alice)
    ws = await open_tab(alice, conversation.pk)
    generation.start(reply)
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete"
    assert await stored_text(reply) == "Fine now"
    assert len(fake_api.message_requests) == 2
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()
    assert shown(frames) == "Fine now" and 'data-status="complete"' in frames[-1][3]
    await assert_stored_once(reply, "Hello")
    report("529", "the reply, complete, after one retry", time.monotonic() - started)


async def test_fault_internal_error_500(fake_api, alice):
    """500 on every try: after the SDK's retries, "had an internal error", the request id and Retry.

    Retry then works."""
    fake_api.enqueue(*[HttpError(500, retry_after=0.05, request_id="req_500")] * 3)
    reply, frames, seconds = await run_watched(alice, "Are you there?")
    assert len(fake_api.message_requests) == 3, "retried twice before giving up"
    assert reply.status == "error" and "The Claude API had an internal error" in reply.error
    end = frames[-1][3]
    assert 'data-status="error"' in end and reply.error in end and "req_500" in end and ">Retry<" in end
    await retry_from_the_page(fake_api, alice, reply)
    await assert_stored_once(reply, "Are you there?")
    report("500", f"{reply.error!r} (request id req_500) with Retry", seconds)


# --- 4-6: the stream fails after some text ------------------------------------------------------


async def mid_stream_failure(
    fake_api, alice, settings, script, expected
) -> tuple[Message, list[list], float]:
    """A reply that fails mid-stream, watched by a tab: an error that keeps the partial text."""
    settings.CHAT_STALL_TIMEOUT = 0.5
    fake_api.enqueue(script)
    conversation, reply = await start_chat(alice)
    ws = await open_tab(alice, conversation.pk)
    started = time.monotonic()
    generation.start(reply)
    await generation.wait_all()
    frames = await frames_until_end(ws, reply.pk)
    seconds = time.monotonic() - started
    await ws.disconnect()
    reply = await reload(reply)
    assert reply.status == "error"
    assert expected in reply.error.lower()
    assert (await stored_text(reply)).startswith("Partial words")
    assert reply.request_id  # the stream had started, so its request id is known
    # What the user saw: the text up to the fault, kept, then the error with Retry.
    assert await stored_text(reply) == shown(frames), "exactly the text shown before the fault is kept"
    end = frames[-1][3]
    assert 'data-status="error"' in end and expected in end.lower() and ">Retry<" in end
    await assert_stored_once(reply, "Hello")
    await retry_from_the_page(fake_api, alice, reply)
    return reply, frames, seconds


async def test_fault_sse_error_event_mid_stream(fake_api, alice, settings):
    """An `error` event mid-stream: the text so far stays, the error names it, Retry works."""
    script = SSEError("Partial words before the error", error_type="overloaded_error")
    reply, frames, seconds = await mid_stream_failure(fake_api, alice, settings, script, "overloaded")
    report("SSE error event", f"{shown(frames)!r} kept, then the overloaded error with Retry", seconds)


async def test_fault_cut_connection(fake_api, alice, settings):
    """The connection cut mid-body: the text so far stays, "cut mid-reply", Retry works."""
    script = Cut("Partial words before the cut", after_deltas=3)
    reply, frames, seconds = await mid_stream_failure(fake_api, alice, settings, script, "cut mid-reply")
    report("cut connection", f"{shown(frames)!r} kept, then 'cut mid-reply' with Retry", seconds)


async def test_fault_stall(fake_api, alice, settings):
    """A stall: after CHAT_STALL_TIMEOUT (0.5 s here) the text so far stays, "stalled", Retry works."""
    script = Stall("Partial words before the stall", seconds=30)
    reply, frames, seconds = await mid_stream_failure(fake_api, alice, settings, script, "stalled")
    report("stall (timeout 0.5 s)", f"{shown(frames)!r} kept, then 'stalled' with Retry", seconds)


async def test_a_quiet_stream_that_pings_is_not_stalled(fake_api, alice, settings):
    """Pings are life: a reply that thinks quietly for three stall timeouts, with the API's pings
    meanwhile, completes; the same pause without pings is a stall. (The SDK drops pings before
    the reply's loop sees an event: the response's byte count is the clock.)"""
    settings.CHAT_STALL_TIMEOUT = 0.5
    fake_api.enqueue(Reply("After a long think.", first_delay=1.5, ping_interval=0.1))
    _, reply = await start_chat(alice)
    reply = await run_to_end(reply)
    assert reply.status == "complete" and await stored_text(reply) == "After a long think."

    fake_api.enqueue(Reply("Never seen.", first_delay=1.5))
    _, reply = await start_chat(alice)
    reply = await run_to_end(reply)
    assert reply.status == "error" and "stalled" in reply.error.lower()


# --- 7-8: the model server itself goes away -----------------------------------------------------


@pytest.mark.parametrize(("local", "server"), [(False, "the Claude API"), (True, "the local model")])
async def test_fault_upstream_killed_mid_reply(alice, settings, upstream_process, local, server):
    """Upstream killed mid-reply: within seconds an error naming the server, the text kept, Retry."""
    process, base_url = upstream_process
    point_at(settings, base_url, local=local)
    ws, reply = await watch(alice)
    shown_text = (await until(ws, "d"))[3]
    process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    end = await until(ws, "e")
    shown = time.monotonic() - killed
    await ws.disconnect()
    reply = await Message.objects.aget(pk=reply.pk)
    assert reply.status == "error" and 'data-status="error"' in end[3]
    assert f"The connection to {server} was cut mid-reply" in reply.error
    assert shown < FAIL_FAST, f"{shown:.1f} s"
    kept = await ContentBlock.objects.aget(message=reply, index=0)
    assert kept.payload["text"].startswith(shown_text), "the text shown before the fault is kept"
    assert ">Retry<" in end[3]
    await assert_stored_once(reply, "Hi")
    report(f"upstream killed mid-reply ({server})", "the text so far, then the error with Retry", shown)


@pytest.mark.parametrize(("local", "server"), [(False, "the Claude API"), (True, "the local model")])
async def test_fault_upstream_refusing_connections(alice, settings, local, server):
    """Upstream refusing connections: "Could not reach" the server within seconds, with Retry.

    Nothing listens where the model server should be; the SDK retries twice first."""
    point_at(settings, "http://127.0.0.1:9", local=local)  # nothing listens on port 9
    started = time.monotonic()
    ws, reply = await watch(alice)
    end = await until(ws, "e")
    shown = time.monotonic() - started
    await ws.disconnect()
    reply = await Message.objects.aget(pk=reply.pk)
    assert reply.status == "error" and f"Could not reach {server}" in reply.error
    assert "Retry" in end[3]
    assert shown < FAIL_FAST, f"{shown:.1f} s"
    await assert_stored_once(reply, "Hi")
    report(f"upstream refusing connections ({server})", f"{reply.error!r} with Retry", shown)


# --- 9-11: the tabs -----------------------------------------------------------------------------


async def test_fault_closed_tab(fake_api, alice):
    """A closed tab: the reply runs on and is stored whole; a tab opened later shows it complete."""
    started = time.monotonic()
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=200))
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply)
    await ws.receive_from(timeout=5)
    await ws.disconnect()
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete"
    assert await stored_text(reply) == LONG_TEXT
    # Back on the page: the tab asks for the reply's state and gets it, complete.
    ws = await connect(alice, conversation.pk)
    await ws.send_json_to({"type": "resync", "message": reply.pk})
    [end] = await frames_until_end(ws, reply.pk)
    await ws.disconnect()
    assert 'data-status="complete"' in end[3] and "word59" in end[3]
    await assert_stored_once(reply, "Hello")
    report("closed tab", "the whole reply, complete, in a tab opened later", time.monotonic() - started)


async def test_fault_two_tabs_and_a_late_third(fake_api, alice):
    """Two tabs: both get the whole reply in order, frame for frame; a late third gets a snapshot."""
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=60))
    conversation, reply = await start_chat(alice)
    one = await open_tab(alice, conversation.pk)
    two = await open_tab(alice, conversation.pk)
    started = time.monotonic()
    generation.start(reply)
    await eventually(lambda: streamed_text(reply), what="some text to stream")
    three = await connect(alice, conversation.pk)
    await three.send_json_to({"type": "resync", "message": reply.pk})
    frames = await asyncio.gather(*(frames_until_end(ws, reply.pk) for ws in (one, two, three)))
    seconds = time.monotonic() - started
    for ws in (one, two, three):
        await ws.disconnect()
    first, second, third = frames

    assert first == second, "both tabs get the same frames"
    assert [f[2] for f in first] == list(range(1, len(first) + 1)), "in order, no gap"
    assert shown(first) == LONG_TEXT and 'data-status="complete"' in first[-1][3]
    snapshot_at = next(i for i, f in enumerate(third) if f[0] == "s")
    snapshot = third[snapshot_at]
    snapshot_text = snapshot[3][0][2]
    assert snapshot_text and LONG_TEXT.startswith(snapshot_text) and snapshot_text != LONG_TEXT
    later = [f for f in third[snapshot_at + 1 :] if f[2] > snapshot[2]]
    assert [f[2] for f in later] == list(range(snapshot[2] + 1, snapshot[2] + 1 + len(later)))
    assert snapshot_text + shown(later) == LONG_TEXT and later[-1] == first[-1]
    assert await stored_text(await reload(reply)) == LONG_TEXT
    await assert_stored_once(reply, "Hello")
    report(
        "two tabs and a late third",
        f"{len(first)} frames in both, the third a snapshot at seq {snapshot[2]} then the rest",
        seconds,
    )


async def test_fault_slow_consumer(fake_api, alice, monkeypatch):
    """A slow consumer: its frames are dropped past OUTBOX_LIMIT and it gets ["r"]; others miss nothing.

    The tab stops reading its socket; when it reads again it gets ["r"], and its page asks for the
    reply's state (complete). The other tab gets every frame, and the reply is stored whole."""
    monkeypatch.setattr(consumers, "OUTBOX_LIMIT", 4)
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=100))
    conversation, reply = await start_chat(alice)
    before = set(consumers.open_sockets.by_user.get(alice.pk, ()))
    slow = await open_tab(alice, conversation.pk)
    [stuck] = consumers.open_sockets.by_user[alice.pk] - before
    reading = asyncio.Event()
    send = stuck.send

    async def send_once_reading(*args, **kwargs):  # the browser stopped reading its socket
        await reading.wait()
        await send(*args, **kwargs)

    stuck.send = send_once_reading
    fast = await open_tab(alice, conversation.pk)
    started = time.monotonic()
    generation.start(reply)
    fast_frames = await frames_until_end(fast, reply.pk)
    seconds = time.monotonic() - started
    await generation.wait_all()
    assert stuck.outbox.qsize() <= consumers.OUTBOX_LIMIT, "a slow tab costs bounded memory"

    reading.set()  # the tab reads again: what was kept for it
    slow_frames = []
    while not await slow.receive_nothing(timeout=0.2):
        slow_frames.append(json.loads(await slow.receive_from()))
    assert ["r"] in slow_frames and len(slow_frames) < len(fast_frames)
    await slow.send_json_to({"type": "resync", "message": reply.pk})  # chat.js answers ["r"] so
    resynced = json.loads(await slow.receive_from(timeout=5))
    await slow.disconnect()
    await fast.disconnect()
    assert resynced[:2] == ["e", reply.pk] and 'data-status="complete"' in resynced[3]
    assert "word59" in resynced[3]

    assert ["r"] not in fast_frames
    assert [f[2] for f in fast_frames] == list(range(1, len(fast_frames) + 1))
    assert shown(fast_frames) == LONG_TEXT
    assert await stored_text(await reload(reply)) == LONG_TEXT
    await assert_stored_once(reply, "Hello")
    report(
        "slow consumer (OUTBOX_LIMIT=4)",
        f"the fast tab all {len(fast_frames)} frames; the slow one {len(slow_frames)} with ['r'], "
        "then the complete reply on resync",
        seconds,
    )


# --- 13-14: the infrastructure ------------------------------------------------------------------


async def test_fault_redis_down(fake_api, alice, settings, caplog):
    """Redis down: the reply is stored whole, the same-process tab gets every frame, the relay logs.

    REDIS_URL is set and nothing listens there. The consumer has no channel-layer channel of its
    own, so the tab lives on; the relay logs once and keeps retrying."""
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on port 9
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [settings.REDIS_URL]}}
    settings.CHANNEL_LAYERS = {"default": layer}
    channel_layers.backends.clear()
    runtime.reset()
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=200))
    caplog.set_level(logging.WARNING)
    conversation, first = await start_chat(alice)
    await Message.objects.filter(pk=first.pk).aupdate(status="complete")
    ws = await connect(alice, conversation.pk)
    client = AsyncClient()
    await client.aforce_login(alice)
    started = time.monotonic()
    # The send by POST (what the composer does when its socket is down), so that it is taken
    # however soon the socket dies; the tab opened before it watches.
    response = await client.post(
        reverse("send_message", args=[conversation.pk]),
        {"text": "Redis is down"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, "the send is taken"
    reply = await Message.objects.exclude(pk=first.pk).aget(conversation=conversation, role="assistant")
    frames, socket_error = [], None
    try:
        frames = await frames_until_end(ws, reply.pk)
    except Exception as exc:  # the socket died under the tab
        socket_error = exc
    await generation.wait_all()
    seconds = time.monotonic() - started
    with contextlib.suppress(Exception):
        await ws.disconnect()

    # What holds: the reply is generated and stored whole, the user's message once.
    reply = await reload(reply)
    assert reply.status == "complete" and await stored_text(reply) == LONG_TEXT
    await assert_stored_once(reply, "Redis is down")
    # What should hold too: the tab on this process gets every frame, and the relay says it failed.
    assert socket_error is None, f"the tab's socket died: {socket_error!r}"
    await eventually(
        lambda: [
            r for r in caplog.records if r.name == "conversations.live.relay" and r.levelno >= logging.WARNING
        ],
        timeout=5,
        what="the relay to say Redis is unreachable",
    )
    assert [f[2] for f in frames] == list(range(1, len(frames) + 1)), "every frame, in order"
    assert shown(frames) == LONG_TEXT and 'data-status="complete"' in frames[-1][3]
    report("Redis down", f"all {len(frames)} frames in the same-process tab, reply complete", seconds)


def test_fault_redis_down_keeps_pages_and_sign_up_working(client, alice, settings):
    """Redis down under the cache: sessions fall back to the database, the sign-up limit lets
    people through; no page fails."""
    dead = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    settings.CACHES = {"default": dead}
    client.force_login(alice)
    assert client.get(reverse("new_chat")).status_code == 200
    settings.CHAT_SIGNUP = "open"
    password = "a-long-pass-123"
    form = {"username": "carol", "password1": password, "password2": password}
    signed_up = client.post(reverse("signup"), form)
    assert signed_up.status_code == 302


def test_fault_postgresql_down(tmp_path):
    """PostgreSQL down at start: the worker exits at once, one line "Cannot connect to the database"."""
    env = app_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:9/chat")  # nothing on port 9
    started = time.monotonic()
    result = subprocess.run(
        [PYTHON, "-c", "import chatsite.asgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    *before, last = output.strip().splitlines()
    said = [line for line in output.splitlines() if "Cannot connect to the database" in line]
    assert said == [last], output
    assert all(" INFO " in line for line in before), "nothing else but startup log lines"
    assert said[0].startswith("Cannot connect to the database (postgresql 127.0.0.1 chat): "), said
    assert "Traceback" not in output
    # "At once" is one failed connection, no retry loop: the run's timeout catches a hang. How long
    # the import takes depends on the machine's load (20 s with both cores busy), so it is reported.
    report("PostgreSQL down", said[0], seconds)


# --- 15: two sends at once ----------------------------------------------------------------------


async def test_fault_concurrent_send(fake_api, alice):
    """A concurrent send: one reply starts; the other tab is told "A reply is still streaming...".

    Two tabs on one conversation send at once; nothing of the refused send is stored."""
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=100))
    conversation, first = await start_chat(alice)
    await Message.objects.filter(pk=first.pk).aupdate(status="complete")
    one = await open_tab(alice, conversation.pk)
    two = await open_tab(alice, conversation.pk)
    started = time.monotonic()
    await asyncio.gather(
        one.send_json_to({"type": "send", "id": "1", "text": "From tab one"}),
        two.send_json_to({"type": "send", "id": "2", "text": "From tab two"}),
    )

    async def answer(ws) -> list:
        while True:
            frame = json.loads(await ws.receive_from(timeout=10))
            if frame[0] in "an":
                return frame

    answers = sorted([await answer(one), await answer(two)])
    seconds = time.monotonic() - started
    accepted, refused = answers
    assert accepted[0] == "a" and refused[0] == "n", answers
    assert refused[2] == STILL_STREAMING
    await generation.wait_all()
    for ws in (one, two):
        await ws.disconnect()
    assert len(fake_api.message_requests) == 1, "exactly one reply started"
    winner = "From tab one" if accepted[1] == "1" else "From tab two"
    loser = "From tab two" if accepted[1] == "1" else "From tab one"
    reply = (
        await Message.objects.filter(conversation=conversation, role="assistant").exclude(pk=first.pk).aget()
    )
    assert reply.status == "complete" and await stored_text(reply) == LONG_TEXT
    await assert_stored_once(reply, winner)
    assert not [
        m async for m in Message.objects.filter(conversation=conversation) if await stored_text(m) == loser
    ]
    assert await Message.objects.filter(conversation=conversation).acount() == 4
    report("concurrent send (one process)", f"one reply; the other tab: {refused[2]!r}", seconds)


# --- 17: a restart mid-reply --------------------------------------------------------------------


def leave_orphans(user) -> tuple[Message, Message]:
    """What a process that died mid-reply leaves: a reply `streaming` with an old heartbeat and its
    checkpointed text; and one that is still alive."""
    _, orphan = services.conversation_start(user=user, text="one", model="m")
    _, alive = services.conversation_start(user=user, text="two", model="m")
    ContentBlock.objects.create(
        message=orphan, index=0, type="text", payload={"type": "text", "text": "half"}
    )
    Message.objects.filter(pk=orphan.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))
    return orphan, alive


async def test_fault_restart_mid_reply(fake_api, alice, settings):
    """A restart mid-reply: the reply shows "interrupted" with its checkpointed text, and Retry works.

    The process died, leaving the reply `streaming` with an old heartbeat; the next start
    (`manage.py ensure_admin`, run by `make setup`) or a live worker's sweep marks it interrupted."""
    settings.CHAT_ORPHAN_AFTER = 15
    orphan, alive = await sync_to_async(leave_orphans)(alice)
    started = time.monotonic()
    out = io.StringIO()
    await sync_to_async(call_command)("ensure_admin", stdout=out)
    assert "Marked 1 reply(ies) left streaming as interrupted." in out.getvalue()
    orphan, alive = await reload(orphan), await reload(alive)
    assert orphan.status == "interrupted" and "stopped while this reply was streaming" in orphan.error
    assert [b.payload["text"] async for b in orphan.blocks.all()] == ["half"]
    assert alive.status == "streaming"

    client = AsyncClient()
    await client.aforce_login(alice)
    page = (await client.get(reverse("conversation", args=[orphan.conversation_id]))).content.decode()
    seconds = time.monotonic() - started
    assert 'data-status="interrupted"' in page and "half" in page
    assert "The server stopped while this reply was streaming." in page and ">Retry<" in page

    # The other reply's process dies too; a live worker's sweep finds it.
    await Message.objects.filter(pk=alive.pk).aupdate(heartbeat_at=timezone.now() - timedelta(seconds=60))
    generation.ensure_sweeper()

    async def swept() -> bool:
        return (await reload(alive)).status != "streaming"

    await eventually(swept, what="the sweep")
    assert (await reload(alive)).status == "interrupted"

    await retry_from_the_page(fake_api, alice, orphan)
    assert fake_api.message_requests[-1].body["messages"][-1]["content"][-1]["text"] == "one"
    await assert_stored_once(orphan, "one")
    report("restart mid-reply", "'interrupted', the checkpointed text kept, and Retry", seconds)


# --- 12, 15, 16 across processes: two daphne workers on PostgreSQL and Redis --------------------


def streaming_replies(cluster) -> int:
    [(count,)] = cluster.sql("SELECT count(*) FROM conversations_message WHERE status = 'streaming'")
    return count


def message_status(cluster, message_id: int) -> str:
    [(status,)] = cluster.sql("SELECT status FROM conversations_message WHERE id = %s", message_id)
    return status


def checkpointed_text(cluster, message_id: int) -> str:
    """The reply's text as its last checkpoint stored it ("" before the first)."""
    rows = cluster.sql("SELECT payload FROM conversations_contentblock WHERE message_id = %s", message_id)
    return "".join(payload.get("text", "") for (payload,) in rows)


@pytest.mark.multiprocess
def test_fault_stop_across_processes(cluster, fake, session):
    """Stop across processes: Stop on worker B cancels the reply on A; "Stopped.", text kept, Retry.

    A also closes the upstream request."""
    client, _, conversation = session
    with mp.socket_on(cluster, "B", client, conversation) as ws:
        fake.enqueue(Reply(mp.LONG, tokens_per_second=30))
        message = mp.send_on_a(session, "then stop")
        while json.loads(ws.recv(timeout=15))[0] != "d":
            pass
        sent_before = len(fake.replies[-1].text_sent)
        stop_at = time.monotonic()
        ws.send(json.dumps({"type": "stop", "message": message}))
        frames = mp.frames_until_end(ws, message)
        stopped_after = time.monotonic() - stop_at
    print(f"\nstop on B -> cancelled on A, final frame on B: {stopped_after * 1000:.0f} ms")
    assert 'data-status="stopped"' in frames[-1][3]
    # The upstream request was closed: the fake's stream falls silent (running, it sends a word
    # every 33 ms) before the whole text is out.
    upstream = fake.replies[-1]
    wait_until(lambda: time.monotonic() - upstream.delta_times[-1] > 0.3, what="the stream to fall silent")
    assert sent_before <= len(upstream.text_sent) < len(mp.LONG)
    [(status,)] = cluster.sql("SELECT status FROM conversations_message WHERE id = %s", message)
    assert status == "stopped"
    assert "Stopped." in frames[-1][3] and ">Retry<" in frames[-1][3]
    [(payload,)] = cluster.sql(
        "SELECT payload FROM conversations_contentblock WHERE message_id = %s", message
    )
    assert payload["text"] and mp.LONG.startswith(payload["text"]), "the text so far is kept"
    report("Stop across processes", "'Stopped.' in the tab on B", stopped_after)


@pytest.mark.multiprocess
def test_fault_concurrent_send_on_two_workers(cluster, fake, session):
    """A concurrent send on two workers: one reply starts; the other is refused (422), told why."""
    client, token, conversation = session
    cookies = dict(client.cookies)
    # One reply only: exactly one send is taken (a second script would be left for the next test).
    fake.enqueue(Reply(mp.LONG, tokens_per_second=100))
    wait_until(lambda: not streaming_replies(cluster), what="earlier replies to end")

    def send(worker: str) -> tuple[int, str]:
        with httpx.Client(base_url=cluster.url(worker), cookies=cookies) as c:
            response = c.post(
                f"/c/{conversation}/send/",
                data={"text": f"race {worker}"},
                headers={"X-CSRFToken": token, "HX-Request": "true"},
            )
            return response.status_code, response.text

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = sorted(pool.map(send, ["A", "B"]))
    seconds = time.monotonic() - started
    codes = [code for code, _ in answers]
    assert codes == [200, 422]
    assert STILL_STREAMING in answers[1][1], "the refused tab is told why"
    assert streaming_replies(cluster) == 1
    wait_until(lambda: not streaming_replies(cluster), timeout=15, what="the reply to end")
    sent = cluster.sql(
        "SELECT count(*) FROM conversations_contentblock b"
        " JOIN conversations_message m ON m.id = b.message_id"
        " WHERE m.conversation_id = %s AND m.role = 'user' AND b.payload->>'text' LIKE 'race %%'",
        conversation,
    )
    assert sent == [(1,)], "only the accepted send is stored"
    report(
        "concurrent send (two workers)", f"HTTP {codes}: one reply; the other {STILL_STREAMING!r}", seconds
    )


@pytest.mark.multiprocess
def test_fault_worker_killed_mid_reply(cluster, fake, session):
    """A worker SIGKILLed mid-reply: B's sweep marks it interrupted, text kept; Retry on B works.

    Within CHAT_ORPHAN_AFTER (2 s here) plus one sweep interval."""
    fake.enqueue(Reply(mp.LONG, tokens_per_second=40))
    message = mp.send_on_a(session, "crash now")
    wait_until(lambda: checkpointed_text(cluster, message), what="a checkpoint of the text so far")
    cluster.procs["A"].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    cluster.procs["A"].wait(5)

    def swept() -> str | None:
        status = message_status(cluster, message)
        return None if status == "streaming" else status

    status = wait_until(swept, timeout=15, what="the sweep")
    print(f"\nSIGKILL -> interrupted: {time.monotonic() - killed_at:.1f} s (CHAT_ORPHAN_AFTER=2)")
    assert status == "interrupted"  # swept by worker B
    [(payload,)] = cluster.sql(
        "SELECT payload FROM conversations_contentblock WHERE message_id = %s", message
    )
    assert payload["text"] and mp.LONG.startswith(payload["text"])
    swept = time.monotonic() - killed_at
    # What the user sees on the surviving worker: the reply interrupted, its text, and Retry, which works.
    client, token, conversation = session
    page = httpx.get(f"{cluster.url('B')}/c/{conversation}/", cookies=dict(client.cookies)).text
    assert "The server stopped while this reply was streaming." in page and ">Retry<" in page
    fake.enqueue(Reply("Back again"))
    retried = httpx.post(
        f"{cluster.url('B')}/m/{message}/retry/",
        cookies=dict(client.cookies),
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert retried.status_code == 200 and 'data-status="streaming"' in retried.text
    wait_until(lambda: message_status(cluster, message) == "complete", what="the retry on B to finish")
    assert cluster.sql("SELECT payload FROM conversations_contentblock WHERE message_id = %s", message) == [
        ({"type": "text", "text": "Back again"},)
    ]
    report("worker SIGKILL mid-reply", "'interrupted' on B, the checkpointed text kept, then Retry", swept)
    # Worker A stays down: this is the module's last test on the cluster (restarting it costs ~4 s).
