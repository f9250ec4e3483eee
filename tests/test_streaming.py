"""The streaming pipeline end to end: the fake Messages API -> generation -> websocket frames -> DB."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import generation, realtime, services
from conversations.models import ContentBlock, Message
from conversations.routing import websocket_urlpatterns
from tests.fakes import Cut, HttpError, Reply, SSEError, Stall

pytestmark = pytest.mark.django_db(transaction=True)

LONG_TEXT = " ".join(f"word{i}" for i in range(60))


async def start_chat(user, text: str = "Hello"):
    conversation, reply = await sync_to_async(services.conversation_start)(user=user, text=text, model="m")
    return conversation, reply


async def connect(user, conversation_id: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/c/{conversation_id}/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def frames_until_end(communicator, message_id: int, timeout: float = 10) -> list[list]:
    frames = []
    while True:
        frame = json.loads(await communicator.receive_from(timeout=timeout))
        frames.append(frame)
        if frame[0] == "e" and frame[1] == message_id:
            return frames


async def reload(message: Message) -> Message:
    return await Message.objects.aget(pk=message.pk)


async def stored_text(message: Message) -> str:
    blocks = [b async for b in ContentBlock.objects.filter(message=message).order_by("index")]
    return "".join(b.payload.get("text", "") for b in blocks)


async def test_frames_arrive_in_order_with_only_new_text_and_the_reply_is_stored(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=300))
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply.pk)
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    assert [f[2] for f in frames] == list(range(1, len(frames) + 1)), "seq has a gap or repeats"
    assert frames[0] == ["b", reply.pk, 1, 0, "text"]
    deltas = [f[3] for f in frames if f[0] == "d"]
    assert "".join(deltas) == LONG_TEXT
    # Coalesced: 60 tokens over ~0.2 s must not become 60 frames.
    assert len(deltas) < 30
    assert [f[0] for f in frames[-2:]] == ["c", "e"]
    assert "word59" in frames[-2][4] and 'data-status="complete"' in frames[-1][3]

    reply = await reload(reply)
    assert reply.status == "complete" and reply.stop_reason == "end_turn"
    assert reply.request_id == fake_api.replies[-1].request_id
    assert reply.output_tokens == 60
    assert reply.input_tokens + reply.cache_creation_input_tokens + reply.cache_read_input_tokens > 0
    assert await stored_text(reply) == LONG_TEXT
    assert realtime.live_replies == {}


async def test_next_turn_replays_the_stored_history(fake_api, alice):
    fake_api.enqueue(Reply("First answer"), Reply("Second answer"))
    conversation, reply = await start_chat(alice, "First question")
    generation.start(reply.pk)
    await generation.wait_all()
    _, second = await sync_to_async(services.message_send)(conversation=conversation, text="Second question")
    generation.start(second.pk)
    await generation.wait_all()

    body = fake_api.message_requests[-1].body
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "First question"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "First answer"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Second question", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    assert body["stream"] is True
    assert body["metadata"]["user_id"] not in {"alice", "alice@example.com", str(alice.pk)}


async def test_thinking_is_stored_with_its_signature(fake_api, alice):
    fake_api.enqueue(Reply("Answer", thinking="Pondering", thinking_signature="sig-123"))
    _, reply = await start_chat(alice)
    generation.start(reply.pk)
    await generation.wait_all()
    payloads = [b.payload async for b in ContentBlock.objects.filter(message=reply).order_by("index")]
    assert payloads == [
        {"type": "thinking", "thinking": "Pondering", "signature": "sig-123"},
        {"type": "text", "text": "Answer"},
    ]


async def test_a_tab_joining_mid_stream_gets_a_snapshot_then_live_frames(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=60))
    conversation, reply = await start_chat(alice)
    generation.start(reply.pk)
    await asyncio.sleep(0.3)  # some text has streamed with nobody watching

    ws = await connect(alice, conversation.pk)
    await ws.send_json_to({"type": "resync", "message": reply.pk})
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    snapshot_at = next(i for i, f in enumerate(frames) if f[0] == "s")
    snapshot = frames[snapshot_at]
    snapshot_text = snapshot[3][0][2]
    assert snapshot_text and LONG_TEXT.startswith(snapshot_text) and snapshot_text != LONG_TEXT
    later = [f for f in frames[snapshot_at + 1 :] if f[2] > snapshot[2]]
    assert [f[2] for f in later] == list(range(snapshot[2] + 1, snapshot[2] + 1 + len(later)))
    assert snapshot_text + "".join(f[3] for f in later if f[0] == "d") == LONG_TEXT


async def test_the_reply_survives_a_closed_tab(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=200))
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply.pk)
    await ws.receive_from(timeout=5)
    await ws.disconnect()
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete"
    assert await stored_text(reply) == LONG_TEXT


async def test_stop_cancels_the_upstream_request_and_keeps_the_partial_text(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=40))
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply.pk)
    while json.loads(await ws.receive_from(timeout=5))[0] != "d":
        pass
    await ws.send_json_to({"type": "stop", "message": reply.pk})
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    assert 'data-status="stopped"' in frames[-1][3]
    reply = await reload(reply)
    assert reply.status == "stopped"
    partial = await stored_text(reply)
    assert partial and LONG_TEXT.startswith(partial) and partial != LONG_TEXT
    await asyncio.sleep(0.3)
    # The fake server saw the client hang up and stopped sending.
    assert len(fake_api.replies[-1].text_sent) < len(LONG_TEXT)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (HttpError(401), "The API key is invalid"),
        (HttpError(400, message="messages: bad"), "rejected the request as invalid"),
        (HttpError(403), "not allowed"),
        (HttpError(404), "not found"),
        (HttpError(413), "too large"),
    ],
)
async def test_api_errors_become_a_clear_message_with_the_request_id(fake_api, alice, script, expected):
    script.request_id = "req_fake_error"
    fake_api.enqueue(script)
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply.pk)
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    reply = await reload(reply)
    assert reply.status == "error"
    assert expected in reply.error
    assert reply.request_id == "req_fake_error"
    html = frames[-1][3]
    assert "req_fake_error" in html and "Retry" in html and "Traceback" not in html


async def test_overloaded_before_the_first_byte_is_retried_by_the_sdk(fake_api, alice):
    fake_api.enqueue(HttpError(529, retry_after=0), Reply("Fine now"))
    _, reply = await start_chat(alice)
    generation.start(reply.pk)
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete"
    assert await stored_text(reply) == "Fine now"
    assert len(fake_api.message_requests) == 2


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (Cut("Partial words before the cut", after_deltas=3), "cut mid-reply"),
        (SSEError("Partial words before the error", error_type="overloaded_error"), "overloaded"),
        (Stall("Partial words before the stall", seconds=30), "stalled"),
    ],
)
async def test_mid_stream_failures_are_errors_that_keep_the_partial_text(
    fake_api, alice, settings, script, expected
):
    settings.CHAT_STALL_TIMEOUT = 0.5
    fake_api.enqueue(script)
    _, reply = await start_chat(alice)
    generation.start(reply.pk)
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "error"
    assert expected in reply.error.lower()
    assert (await stored_text(reply)).startswith("Partial words")
    assert reply.request_id  # the stream had started, so its request id is known


async def test_another_user_and_anonymous_get_not_found_on_the_socket(fake_api, alice, bob):
    from django.contrib.auth.models import AnonymousUser

    conversation, _ = await start_chat(alice)
    for intruder in (bob, AnonymousUser()):
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/c/{conversation.pk}/")
        communicator.scope["user"] = intruder
        await communicator.connect()
        assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4404}
    nowhere = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/c/999999/")
    nowhere.scope["user"] = alice
    await nowhere.connect()
    assert await nowhere.receive_output(timeout=2) == {"type": "websocket.close", "code": 4404}


async def test_bad_control_frames_get_an_error_frame_and_the_socket_stays_up(fake_api, alice, bob):
    mine, reply = await start_chat(alice)
    theirs, their_reply = await start_chat(bob)
    generation.start(reply.pk)
    generation.start(their_reply.pk)
    ws = await connect(alice, mine.pk)
    for bad in ["not json", '{"type": "explode", "message": 1}', '{"type": "stop"}', "[]"]:
        await ws.send_to(text_data=bad)
        frame = json.loads(await ws.receive_from(timeout=2))
        while frame[0] != "x":  # skip stream frames of our own reply
            frame = json.loads(await ws.receive_from(timeout=2))
        assert "malformed" in frame[1].lower()
    # Someone else's reply cannot be stopped or read through my socket.
    await ws.send_json_to({"type": "stop", "message": their_reply.pk})
    await ws.send_json_to({"type": "resync", "message": their_reply.pk})
    errors = []
    while len(errors) < 2:
        frame = json.loads(await ws.receive_from(timeout=5))
        if frame[0] == "x":
            errors.append(frame[1])
    assert errors == ["That reply is not streaming.", "No such reply in this conversation."]
    await generation.wait_all()
    assert (await reload(their_reply)).status == "complete"
    await ws.disconnect()


async def test_only_one_reply_streams_per_conversation(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=100))
    conversation, reply = await start_chat(alice)
    generation.start(reply.pk)
    with pytest.raises(services.ReplyInProgress):
        await sync_to_async(services.message_send)(conversation=conversation, text="again")
    await generation.wait_all()
    await sync_to_async(services.message_send)(conversation=conversation, text="now it works")


async def test_retry_reruns_a_failed_reply_in_place(fake_api, alice):
    fake_api.enqueue(Cut("half", after_deltas=1), Reply("whole answer"))
    _, reply = await start_chat(alice)
    generation.start(reply.pk)
    await generation.wait_all()
    assert (await reload(reply)).status == "error"
    reply = await sync_to_async(services.reply_retry)(reply=await reload(reply))
    generation.start(reply.pk)
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete" and reply.error == ""
    assert await stored_text(reply) == "whole answer"
    assert fake_api.message_requests[-1].body["messages"][-1]["role"] == "user"
