"""The conversation websocket's controls: ownership, and bad or foreign control frames."""

import json

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations.reply import generation
from conversations.routing import websocket_urlpatterns
from tests.helpers import connect, reload, start_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_another_user_gets_not_found_and_anonymous_gets_signed_out_on_the_socket(fake_api, alice, bob):
    """4404 for "not yours or gone"; 4401 for a tab whose person was signed out or deactivated
    (the page then says so and stops reconnecting), on a conversation's socket and on New chat's."""
    from django.contrib.auth.models import AnonymousUser

    conversation, _ = await start_chat(alice)
    for intruder, path, code in (
        (bob, f"/ws/c/{conversation.pk}/", 4404),
        (AnonymousUser(), f"/ws/c/{conversation.pk}/", 4401),
        (AnonymousUser(), "/ws/new/", 4401),
    ):
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = intruder
        await communicator.connect()
        assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": code}
    nowhere = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/c/999999/")
    nowhere.scope["user"] = alice
    await nowhere.connect()
    assert await nowhere.receive_output(timeout=2) == {"type": "websocket.close", "code": 4404}


async def test_bad_control_frames_get_an_error_frame_and_the_socket_stays_up(fake_api, alice, bob):
    mine, reply = await start_chat(alice)
    theirs, their_reply = await start_chat(bob)
    generation.start(reply)
    generation.start(their_reply)
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
