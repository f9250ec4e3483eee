"""Sends over the conversation's websocket: the lean path, and its bad input."""

import json
import re
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict
from django.test import AsyncClient

from conversations import sending, services
from conversations.live.consumers import Incoming
from conversations.models import Budget, Conversation, Message
from conversations.reply import generation
from conversations.routing import websocket_urlpatterns
from fakes import Reply
from tests.helpers import next_frame, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def until_end(ws, message_id: int) -> list[list]:
    frames = []
    while True:
        frames.append(json.loads(await ws.receive_from(timeout=10)))
        if frames[-1][0] == "e" and frames[-1][1] == message_id:
            return frames


async def finished_chat(user) -> Conversation:
    conversation, reply = await sync_to_async(services.conversation_start)(user=user, text="Hi", model="m")
    await Message.objects.filter(pk=reply.pk).aupdate(status="complete")
    return conversation


async def test_a_send_over_the_socket_is_answered_with_the_turn_then_streams(fake_api, alice):
    fake_api.enqueue(Reply("Over the socket."))
    conversation = await finished_chat(alice)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "7", "text": "  Hello there  "})
    accepted = await next_frame(ws, "an")
    assert accepted[:2] == ["a", "7"] and accepted[3] == conversation.pk
    assert accepted[4] == f"/c/{conversation.pk}/"
    assert 'data-role="user"' in accepted[2] and "Hello there" in accepted[2]
    assert 'data-status="streaming"' in accepted[2] and 'data-seq="0"' in accepted[2]
    reply = await Message.objects.filter(conversation=conversation).order_by("-id").afirst()
    frames = await until_end(ws, reply.pk)
    await ws.disconnect()
    assert "".join(f[3] for f in frames if f[0] == "d") == "Over the socket."
    assert (await Message.objects.aget(pk=reply.pk)).status == "complete"
    assert fake_api.requests[-1].body["messages"][-1]["content"][-1]["text"] == "Hello there"


async def test_a_socket_send_builds_its_reply_request_in_the_same_hop_from_the_rows_it_wrote(
    fake_api, alice, monkeypatch
):
    """The reply is not read back: its first request is built in the send's thread hop."""
    fake_api.enqueue(Reply("One hop."))
    conversation = await finished_chat(alice)
    loads = []
    load = generation.ReplyRun._load

    def recorded(run, reply=None):
        loads.append(reply is not None)
        return load(run, reply)

    monkeypatch.setattr(generation.ReplyRun, "_load", recorded)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "1", "text": "Quick?"})
    await next_frame(ws, "a")
    reply = await Message.objects.filter(conversation=conversation).order_by("-id").afirst()
    frames = await until_end(ws, reply.pk)
    await ws.disconnect()
    assert "".join(f[3] for f in frames if f[0] == "d") == "One hop."
    assert loads == [True]
    assert fake_api.requests[-1].body["messages"][-1]["content"][-1]["text"] == "Quick?"


async def test_a_new_chat_starts_over_its_socket_which_then_watches_it(fake_api, alice):
    fake_api.enqueue(Reply("A new chat."))
    ws = await open_socket(alice, "/ws/new/")
    start = {"type": "start", "id": "1", "text": "First words", "model": "claude-sonnet-4-6"}
    await ws.send_json_to({**start, "timezone": "Europe/Oslo"})
    accepted = await next_frame(ws, "an")
    conversation = await Conversation.objects.aget(owner=alice)
    assert accepted[:2] == ["a", "1"]
    assert accepted[3:] == [conversation.pk, f"/c/{conversation.pk}/", "First words"]
    assert conversation.model == "claude-sonnet-4-6" and conversation.params == {"timezone": "Europe/Oslo"}
    reply = await Message.objects.aget(conversation=conversation, role="assistant")
    frames = await until_end(ws, reply.pk)
    assert "".join(f[3] for f in frames if f[0] == "d") == "A new chat."
    await ws.send_json_to({"type": "start", "id": "2", "text": "Again"})  # the socket is this chat's now
    assert await next_frame(ws, "an") == ["n", "2", "This conversation has already started."]
    await ws.disconnect()


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"text": "   "}, "Type a message first."),
        ({"text": "x" * 51}, "The message is 51 characters long; the limit is 50."),
        ({"text": "a\x00b"}, "Null characters are not allowed."),
        ({"text": "hi", "attachments": [123456]}, "No such attachment."),
        ({"text": "hi", "attachments": [10**30]}, "No such attachment."),
    ],
)
async def test_a_refused_send_gets_the_posts_message_and_the_socket_stays_up(alice, settings, frame, reason):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    conversation = await finished_chat(alice)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "9", **frame})
    assert await next_frame(ws, "an") == ["n", "9", reason]
    assert await Message.objects.filter(conversation=conversation).acount() == 2
    await ws.send_json_to({"type": "resync", "message": 1})  # still answering
    assert (await next_frame(ws, "x"))[0] == "x"
    await ws.disconnect()


async def test_malformed_and_oversized_fields_are_refused_without_closing(alice):
    conversation = await finished_chat(alice)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    too_long_id = json.dumps({"type": "send", "id": "x" * 65})
    for bad in ['{"type": "send"}', '{"type": "send", "id": "1", "text": 5}', "[1,2", too_long_id]:
        await ws.send_to(text_data=bad)
        assert await next_frame(ws, "x") == ["x", "Unknown or malformed control frame."]
    await ws.disconnect()


async def test_a_send_while_a_reply_streams_or_over_budget_is_refused(fake_api, alice):
    conversation, reply = await sync_to_async(services.conversation_start)(user=alice, text="Hi", model="m")
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "1", "text": "Wait"})
    refused = await next_frame(ws, "an")
    assert refused == ["n", "1", services.ReplyInProgress().args[0]]
    await Message.objects.filter(pk=reply.pk).aupdate(status="complete", cost=Decimal("2"))
    await Budget.objects.acreate(user=alice, monthly_limit=Decimal("1"))
    await ws.send_json_to({"type": "send", "id": "2", "text": "More"})
    refused = await next_frame(ws, "an")
    assert refused[:2] == ["n", "2"] and "monthly limit of $1.00 is reached" in refused[2]
    await ws.disconnect()
    assert await Message.objects.filter(conversation=conversation).acount() == 2


async def test_sockets_are_for_their_owner_only(alice, bob):
    conversation = await finished_chat(alice)
    # 4404: not yours or gone; 4401: signed out (the page says so and stops reconnecting).
    for user, path, code in [(bob, f"/ws/c/{conversation.pk}/", 4404), (AnonymousUser(), "/ws/new/", 4401)]:
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        await communicator.connect()
        assert (await communicator.receive_output(timeout=5))["code"] == code
        await communicator.disconnect()


async def test_metrics_count_socket_sends_for_staff_or_a_token(fake_api, alice, settings):
    fake_api.enqueue(Reply("Counted."))
    conversation = await finished_chat(alice)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "1", "text": "Q"})
    await next_frame(ws, "a")
    await generation.wait_all()
    await ws.disconnect()
    client = AsyncClient()
    assert (await client.get("/metrics")).status_code == 404
    await client.aforce_login(alice)
    assert (await client.get("/metrics")).status_code == 404  # not staff
    alice.is_staff = True
    await alice.asave()
    assert (await client.get("/metrics")).status_code == 200
    settings.CHAT_METRICS_TOKEN = "scrape-me"
    wrong = await AsyncClient().get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 404
    scraped = await AsyncClient().get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    page = scraped.content.decode()
    counted = re.search(r'chat_send_handling_seconds_count\{path="websocket"\} (\S+)', page)
    assert counted and float(counted.group(1)) >= 1
    assert "chat_send_to_first_token_seconds_bucket" in page and "chat_db_write_transactions_total" in page


async def test_a_deactivated_account_loses_its_open_sockets_within_seconds(alice, bob, settings):
    settings.CHAT_ACCOUNT_CHECK_INTERVAL = 0.2
    conversation = await finished_chat(alice)
    alices = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    bobs = await open_socket(bob, "/ws/new/")
    alice.is_active = False
    await alice.asave()
    closed = await alices.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401}
    assert await bobs.receive_nothing(timeout=0.5)  # other accounts keep theirs
    await bobs.disconnect()


def test_a_frame_and_a_post_make_the_same_send_command():
    """One typed command, whichever way the send came; the frame is never turned back into a form."""
    frame = {"type": "start", "id": "1", "text": "Hi ", "attachments": [3, 4], "model": "m", "prompt": 7}
    post = QueryDict(mutable=True)
    post.update({"text": "Hi ", "model": "m", "prompt": "7", "timezone": "Europe/Oslo"})
    post.setlist("attachment", ["3", "4"])
    expected = sending.SendCommand("Hi ", (3, 4), model="m", prompt_id=7, timezone="Europe/Oslo")
    assert Incoming.validate_python({**frame, "timezone": "Europe/Oslo"}).command() == expected
    assert sending.command_from_post(post, start=True) == expected
    send = Incoming.validate_python({"type": "send", "id": "2", "text": "Hi ", "attachments": [3, 4]})
    assert send.command() == sending.command_from_post(post) == sending.SendCommand("Hi ", (3, 4))
