"""Conversation pages: ownership, the composer's refusals, rename and delete, sign-up, the settings
form, and a conversation pinned to a prompt version."""

import pytest
from django.test import AsyncClient
from django.urls import reverse

from conversations import services
from conversations.models import Conversation, Message
from conversations.reply import generation
from fakes import Reply
from teams import services as team_services

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
    assert not Conversation.objects.visible().filter(pk=alices_chat.pk).exists()  # purged after its Undo


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


def test_a_refused_settings_form_shows_the_whole_page(client, alice, alices_chat):
    """The 422 shows what the page shows: Edit, Regenerate and the conversation's cost."""
    Message.objects.filter(conversation=alices_chat, role="assistant").update(cost="0.0123", output_tokens=5)
    client.force_login(alice)
    response = client.post(
        reverse("conversation_settings", args=[alices_chat.pk]), {"model": alices_chat.model, "top_k": "0"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert 'role="alert"' in page and "top_k" in page
    assert ">Regenerate</span></button>" in page and ">Edit</span></button>" in page
    assert "$0.0123" in page


def test_a_refused_send_without_htmx_shows_the_settings_limits(client, alice, alices_chat):
    client.force_login(alice)
    response = client.post(reverse("send_message", args=[alices_chat.pk]), {"text": " "})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Max tokens (up to )" not in page and "Max tokens (up to " in page
    assert ">Regenerate</span></button>" in page


# --- the settings form -------------------------------------------------------------------------


def chat_for(user, model="claude-sonnet-4-6") -> Conversation:
    conversation, reply = services.conversation_start(user=user, text="hi", model=model)
    Message.objects.filter(pk=reply.pk).update(status="complete")
    return conversation


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_catalog")
def test_settings_are_saved_and_applied_from_the_next_turn(client, fake_api, alice):
    conversation = chat_for(alice)
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert 'aria-label="Model"' in page and "Temperature" in page
    response = client.post(
        reverse("conversation_settings", args=[conversation.pk]),
        {
            "model": "claude-opus-4-8",
            "max_tokens": "2000",
            "stop_sequences": "END\nSTOP",
            "tools": "on",
        },
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.model == "claude-opus-4-8"
    assert conversation.params == {"max_tokens": 2000, "stop_sequences": ["END", "STOP"]}
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "Temperature" not in page  # the Opus 4.8 family takes no sampling parameters


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_catalog")
def test_an_invalid_combination_is_a_form_error_not_an_api_call(client, fake_api, alice):
    conversation = chat_for(alice)
    client.force_login(alice)
    response = client.post(
        reverse("conversation_settings", args=[conversation.pk]),
        {"model": "claude-opus-4-8", "temperature": "0.4"},
    )
    assert response.status_code == 422
    assert "does not accept temperature" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.model == "claude-sonnet-4-6" and not fake_api.message_requests
    bad = client.post(reverse("conversation_settings", args=[conversation.pk]), {"max_tokens": "lots"})
    assert bad.status_code == 422 and "max_tokens" in bad.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_catalog")
def test_settings_of_someone_elses_conversation_are_404(client, alice, bob):
    conversation = chat_for(alice)
    client.force_login(bob)
    assert client.post(reverse("conversation_settings", args=[conversation.pk]), {}).status_code == 404


# --- a team prompt, pinned ---------------------------------------------------------------------


@pytest.mark.django_db
def test_conversation_pins_its_version_and_switches_only_when_asked(client, people, prompt):
    client.force_login(people["member"])
    response = client.post(reverse("start_chat"), {"text": "Hello", "prompt": prompt.pk})
    conversation = Conversation.objects.get(owner=people["member"])
    assert response.status_code == 302 and conversation.prompt_version.number == 1
    team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name="Support tone", text="Be kinder.", cache_ttl="5m"
    )
    conversation.messages.filter(status="streaming").update(status="complete")

    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "Support tone · v1" in page and "v2 available" in page
    conversation.refresh_from_db()
    assert conversation.prompt_version.number == 1
    client.post(reverse("switch_prompt", args=[conversation.pk]))
    conversation.refresh_from_db()
    assert conversation.prompt_version.number == 2


def test_the_sidebar_lists_my_conversations_on_every_page(client, alice, bob, staff):
    services.conversation_start(user=alice, text="Alice private plans", model="m")
    services.conversation_start(user=staff, text="Staff own chat", model="m")
    client.force_login(alice)
    for name in ["new_chat", "prompt_list", "team_list", "my_reviews"]:
        page = client.get(reverse(name)).content.decode()
        assert "Alice private plans" in page and "No conversations yet." not in page, name
    client.force_login(staff)
    for name in ["review_list", "usage_dashboard"]:
        page = client.get(reverse(name)).content.decode()
        start = page.index('class="conversation-list"')
        sidebar = page[start : page.index("</ul>", start)]
        assert "Staff own chat" in sidebar and "Alice private plans" not in sidebar, name
