"""Leavers: deactivating an account ends its sessions at once, closes its websockets and stops its
running replies within seconds, and keeps its data for review."""

import asyncio
import json
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.models import SignedInSession
from accounts.signals import forget_expired_sessions
from conversations.models import Conversation, Message
from conversations.reply import generation
from fakes import Reply
from tests.helpers import connect, start_chat


def signed_in_client(username: str, password: str) -> Client:
    client = Client()
    assert client.post(reverse("login"), {"username": username, "password": password}).status_code == 302
    return client


@pytest.mark.django_db(transaction=True)
def test_deactivation_ends_every_session_of_that_account_only(alice, bob):
    laptop, phone = signed_in_client("alice", "alice-pass-123"), signed_in_client("alice", "alice-pass-123")
    bobs = signed_in_client("bob", "bob-pass-123")
    assert SignedInSession.objects.filter(user=alice).count() == 2
    alice.is_active = False
    alice.save()
    assert SignedInSession.objects.filter(user=alice).count() == 0
    assert Session.objects.count() == 1  # bob's
    for client in (laptop, phone):
        assert client.get(reverse("new_chat")).status_code == 302  # to the login page
    assert bobs.get(reverse("new_chat")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_saving_an_active_account_ends_nothing(alice):
    client = signed_in_client("alice", "alice-pass-123")
    alice.first_name = "Alice"
    alice.save()
    assert client.get(reverse("new_chat")).status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_a_leaver_loses_the_socket_at_the_next_account_check_and_the_reply_stops_but_the_data_stays(
    fake_api, alice, settings
):
    assert settings.CHAT_ACCOUNT_CHECK_INTERVAL == 3  # the shipped default
    fake_api.enqueue(Reply(" ".join(f"word{i}" for i in range(2000)), tokens_per_second=50))
    conversation, reply = await start_chat(alice, "Write a long story")
    socket = await connect(alice, conversation.pk)
    generation.start(reply)
    try:
        while json.loads(await socket.receive_from(timeout=10))[0] != "d":  # the reply is streaming
            pass
        alice.is_active = False
        await alice.asave()
        deactivated = time.monotonic()
        while (output := await socket.receive_output(timeout=15))["type"] != "websocket.close":
            pass
        # Within 5 s on a quiet machine (checked every 3 s); the bound is wider for a loaded one
        # (both cores kept busy by stress-ng took it past 5 s once).
        assert output["code"] == 4401 and time.monotonic() - deactivated < 12
        await asyncio.wait_for(generation.wait_all(), timeout=12)
        stopped = await Message.objects.aget(pk=reply.pk)
        assert stopped.status == "stopped" and time.monotonic() - deactivated < 12
    finally:  # a failure must not leave the 40 s reply writing into the next tests' database
        await generation.stop_and_wait([reply.pk])
    assert await Conversation.objects.filter(pk=conversation.pk).aexists()
    assert await Message.objects.filter(conversation=conversation).acount() == 2


@pytest.mark.django_db(transaction=True)
def test_session_records_go_with_log_out_and_expiry(alice):
    client = signed_in_client("alice", "alice-pass-123")
    client.post(reverse("logout"))
    assert not SignedInSession.objects.exists()
    signed_in_client("alice", "alice-pass-123")
    Session.objects.all().delete()  # as `clearsessions` does to expired ones
    assert forget_expired_sessions() == 1 and not SignedInSession.objects.exists()
