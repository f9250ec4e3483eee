"""The model catalog and the per-conversation settings form."""

import pytest
from django.urls import reverse

from conversations import catalog, llm, services
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_catalog():
    catalog._cache = None
    yield
    catalog._cache = None


def test_models_come_from_the_api_with_display_names(fake_api):
    choices = catalog.available()
    assert [c.id for c in choices][:2] == ["claude-sonnet-4-6", *[c.id for c in choices][1:2]]
    assert choices[0].display_name == "Claude Sonnet 4.6"
    assert any(r.path == "/v1/models" for r in fake_api.requests)
    fake_api.reset()
    catalog.available()
    assert not fake_api.requests  # cached


def test_listing_failure_falls_back_to_the_configured_list(settings):
    settings.CHAT_USE_LOCAL_MODEL = False
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.CHAT_API_MAX_RETRIES = 0
    llm._client = None
    ids = [c.id for c in catalog.available()]
    llm._client = None
    assert ids[: len(catalog.FALLBACK)] == catalog.FALLBACK or set(catalog.FALLBACK) <= set(ids)


def test_the_embedded_model_is_listed_as_local(settings):
    settings.CHAT_USE_LOCAL_MODEL = True
    [choice] = catalog.available()
    assert choice.local and choice.id == settings.CHAT_LOCAL_MODEL_NAME


def chat_for(user, model="claude-sonnet-4-6") -> Conversation:
    conversation, reply = services.conversation_start(user=user, text="hi", model=model)
    Message.objects.filter(pk=reply.pk).update(status="complete")
    return conversation


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
            "thinking": "on",
            "effort": "high",
            "stop_sequences": "END\nSTOP",
            "tools": "on",
        },
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.model == "claude-opus-4-8"
    assert (
        conversation.params["stop_sequences"] == ["END", "STOP"] and conversation.params["effort"] == "high"
    )
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "Temperature" not in page  # the Opus 4.8 family takes no sampling parameters


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


def test_settings_of_someone_elses_conversation_are_404(client, alice, bob):
    conversation = chat_for(alice)
    client.force_login(bob)
    assert client.post(reverse("conversation_settings", args=[conversation.pk]), {}).status_code == 404
