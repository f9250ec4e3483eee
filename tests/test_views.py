import pytest
from django.test import AsyncClient
from django.urls import reverse

from conversations import generation, services
from conversations.models import Conversation, Message
from tests.fakes import Reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alices_chat(alice):
    conversation, reply = services.conversation_start(user=alice, text="Secret plans", model="m")
    Message.objects.filter(pk=reply.pk).update(status="complete")
    return conversation


def test_pages_need_a_login(client, alices_chat):
    for url in [reverse("home"), reverse("new_chat"), reverse("conversation", args=[alices_chat.pk])]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_every_url_of_a_conversation_is_404_for_another_user(client, bob, alices_chat):
    client.force_login(bob)
    reply = alices_chat.messages.get(role="assistant")
    Message.objects.filter(pk=reply.pk).update(status="error")
    assert client.get(reverse("conversation", args=[alices_chat.pk])).status_code == 404
    for url in [
        reverse("send_message", args=[alices_chat.pk]),
        reverse("rename_conversation", args=[alices_chat.pk]),
        reverse("delete_conversation", args=[alices_chat.pk]),
        reverse("retry_reply", args=[reply.pk]),
    ]:
        assert client.post(url, {"text": "hi", "title": "mine now"}).status_code == 404, url
    alices_chat.refresh_from_db()
    assert alices_chat.title == "Secret plans"
    assert alices_chat.messages.count() == 2
    assert reply.__class__.objects.get(pk=reply.pk).status == "error"


def test_sidebar_lists_only_my_conversations_newest_first(client, alice, bob, alices_chat):
    services.conversation_start(user=bob, text="Bob's thing", model="m")
    later, reply = services.conversation_start(user=alice, text="Later chat", model="m")
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[later.pk])).content.decode()
    assert "Bob&#x27;s thing" not in page and "Bob's thing" not in page
    assert page.index("Later chat") < page.index("Secret plans")
    for hook in ['aria-label="Message"', ">Send<", ">New chat<", 'data-role="user"', 'data-role="assistant"']:
        assert hook in page


def test_empty_message_is_refused_with_a_hint(client, alice, alices_chat):
    client.force_login(alice)
    response = client.post(reverse("send_message", args=[alices_chat.pk]), {"text": "   "})
    assert response.status_code == 422
    assert "Type a message first." in response.content.decode()
    assert alices_chat.messages.count() == 2


def test_too_long_message_is_refused_and_the_text_stays_in_the_composer(client, alice, alices_chat, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    client.force_login(alice)
    text = "x" * 51
    response = client.post(reverse("send_message", args=[alices_chat.pk]), {"text": text})
    assert response.status_code == 422
    body = response.content.decode()
    assert "the limit is 50" in body and f">{text}</textarea>" in body
    # htmx: only the error line is swapped, so the textarea keeps what was typed.
    response = client.post(
        reverse("send_message", args=[alices_chat.pk]), {"text": text}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422 and response["HX-Retarget"] == "#composer-error"
    assert alices_chat.messages.count() == 2


def test_rename_and_delete(client, alice, alices_chat):
    client.force_login(alice)
    client.post(reverse("rename_conversation", args=[alices_chat.pk]), {"title": "  Plans  B "})
    alices_chat.refresh_from_db()
    assert alices_chat.title == "Plans B"
    assert (
        client.post(reverse("rename_conversation", args=[alices_chat.pk]), {"title": " "}).status_code == 422
    )
    client.post(reverse("delete_conversation", args=[alices_chat.pk]))
    assert not Conversation.objects.filter(pk=alices_chat.pk).exists()


def test_signup_can_be_turned_off(client, settings):
    settings.CHAT_ALLOW_SIGNUP = True
    response = client.post(
        reverse("signup"),
        {"username": "carol", "password1": "a-long-pass-123", "password2": "a-long-pass-123"},
    )
    assert response.status_code == 302
    settings.CHAT_ALLOW_SIGNUP = False
    assert client.get(reverse("signup")).status_code == 404
    assert "Create an account" not in client.get(reverse("login")).content.decode()


def test_logout_is_a_post(client, alice):
    client.force_login(alice)
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


async def test_send_commits_both_messages_and_streams_the_reply(fake_api, alice):
    fake_api.enqueue(Reply("Hi there"), Reply("Again"))
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.post(reverse("start_chat"), {"text": "Hello"}, headers={"HX-Request": "true"})
    conversation = await Conversation.objects.aget(owner=alice)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("conversation", args=[conversation.pk])
    await generation.wait_all()

    response = await client.post(
        reverse("send_message", args=[conversation.pk]), {"text": "More"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response["HX-Trigger"] == "chat:sent"
    assert 'data-role="user"' in html and 'data-status="streaming"' in html and 'data-seq="0"' in html
    await generation.wait_all()
    statuses = [m.status async for m in Message.objects.filter(conversation=conversation)]
    assert statuses == ["complete", "complete", "complete", "complete"]
    assert conversation.title == "Hello"


async def test_send_while_streaming_is_refused_clearly(fake_api, alice):
    fake_api.enqueue(Reply("slow " * 40, tokens_per_second=100))
    client = AsyncClient()
    await client.aforce_login(alice)
    await client.post(reverse("start_chat"), {"text": "Hello"})
    conversation = await Conversation.objects.aget(owner=alice)
    response = await client.post(reverse("send_message", args=[conversation.pk]), {"text": "Wait"})
    assert response.status_code == 422
    assert "still streaming" in response.content.decode()
    await generation.wait_all()
    assert await Message.objects.filter(conversation=conversation).acount() == 2


async def test_healthz_checks_the_database_and_channel_layer():
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"
