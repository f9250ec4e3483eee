"""A chat that filled the model's window (stop reason model_context_window_exceeded): its own
state, and Continue in a new chat from a summary (reply/handover.py), one click, editable before
sending, the summary call counted. And the 1M context option (a beta for Sonnet 4 and 4.5): its
beta header, the gauge's limit, and long-context prices past 200k input tokens."""

import re
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations import services
from conversations.claude import params, pricing
from conversations.claude.capabilities import capabilities
from conversations.models import ApiCall, ContentBlock, Conversation, Message
from conversations.reply import context_window, handover
from fakes import HttpError, Reply
from tests.helpers import run_to_end, start_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def filled_chat(fake_api, user):
    fake_api.enqueue(Reply("The first half of a long answer", stop_reason="model_context_window_exceeded"))
    conversation, reply = await start_chat(
        user, "Plan the migration of our billing system", "claude-sonnet-4-6"
    )
    return conversation, await run_to_end(reply)


async def test_a_full_window_is_its_own_state_with_the_way_on(async_client, fake_api, alice):
    conversation, reply = await filled_chat(fake_api, alice)
    assert reply.status == "complete" and reply.stop_reason == "model_context_window_exceeded"
    await async_client.aforce_login(alice)
    page = (await async_client.get(reverse("conversation", args=[conversation.pk]))).content.decode()
    assert "The conversation filled the model's context window: the reply stopped there." in page
    assert f'hx-post="{reverse("handover", args=[conversation.pk])}"' in page
    assert "Continue in a new chat" in page

    fake_api.enqueue(Reply("The team is moving billing to the new ledger; step 3 of 5 is next."))
    response = await async_client.post(
        reverse("handover", args=[conversation.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response["HX-Redirect"] == f"/new/?from={conversation.pk}"
    html = (await async_client.get(response["HX-Redirect"])).content.decode()
    expected = handover.INTRO + "The team is moving billing to the new ledger; step 3 of 5 is next."
    assert f">{expected}</textarea>" in html  # in the message box, the person's to edit
    assert re.search(r'<option value="claude-sonnet-4-6"[^>]* selected>', html)  # the same model
    assert "A summary of “Plan the migration of our billing system” is in the message box" in html
    request = fake_api.message_requests[-1].body
    assert request["system"] == handover.SYSTEM and "stream" not in request
    assert "Person: Plan the migration of our billing system" in request["messages"][0]["content"]
    assert "Claude: The first half of a long answer" in request["messages"][0]["content"]
    call = await ApiCall.objects.aget(kind="summary")
    assert (call.user_id, call.conversation_id, call.input_tokens > 0) == (alice.pk, conversation.pk, True)
    assert await Conversation.objects.acount() == 1  # nothing is started until the person sends
    again = (await async_client.get(response["HX-Redirect"])).content.decode()
    assert handover.INTRO not in again  # once: a reload starts empty


async def test_someone_elses_chat_is_404_and_a_failed_summary_says_why(async_client, fake_api, alice, bob):
    conversation, _ = await filled_chat(fake_api, alice)
    await async_client.aforce_login(bob)
    assert (await async_client.post(reverse("handover", args=[conversation.pk]))).status_code == 404
    await async_client.aforce_login(alice)
    fake_api.enqueue(HttpError(529, message="<b>busy</b>"))
    response = await async_client.post(
        reverse("handover", args=[conversation.pk]), headers={"HX-Request": "true"}
    )
    said = response.content.decode()
    assert "The summary could not be made: The Claude API is overloaded" in said
    assert "&lt;b&gt;busy&lt;/b&gt;" in said and "<b>" not in said


def test_a_long_transcript_keeps_its_start_and_its_end(alice):
    conversation, reply = services.conversation_start(user=alice, text="START " + "a" * 10, model="m")
    words = "x" * (handover.TRANSCRIPT_CHARS * 2)
    ContentBlock.objects.create(
        message=reply, index=0, type="text", payload={"type": "text", "text": words + " END"}
    )
    Message.objects.filter(pk=reply.pk).update(status="complete")
    text = handover.transcript(conversation)
    assert len(text) < handover.TRANSCRIPT_CHARS + 100
    assert text.startswith("Person: START") and text.endswith("END") and "left out" in text


async def test_the_1m_option_sends_its_beta_and_widens_the_gauge(fake_api, alice):
    fake_api.enqueue(Reply("Long read."))
    conversation, reply = await start_chat(alice, "Read all of it", "claude-sonnet-4-5")
    await Conversation.objects.filter(pk=conversation.pk).aupdate(params={"context_1m": True})
    await run_to_end(reply)
    assert "context-1m-2025-08-07" in fake_api.message_requests[-1].headers["anthropic-beta"]
    await conversation.arefresh_from_db()
    assert (await sync_to_async(context_window.gauge)(conversation)).limit == 1_000_000
    _, errors = params.parse({"context_1m": True}, capabilities("claude-sonnet-4-6"))
    assert errors == ["This model has no 1M context option."]


def test_past_200k_input_tokens_a_request_costs_the_long_context_rates():
    price = pricing.Price(
        Decimal(3),
        Decimal(15),
        Decimal("3.75"),
        Decimal(6),
        Decimal("0.30"),
        long_input=Decimal(6),
        long_output=Decimal("22.5"),
    )
    short = pricing.Usage(input_tokens=200_000, output_tokens=1_000)
    assert pricing.cost(short, price) == Decimal("0.615")  # at the standard rates: not over 200k
    long = pricing.Usage(input_tokens=100_000, cache_read_input_tokens=200_000, output_tokens=1_000)
    # $6/M input, $0.60/M cache reads (read keeps its 0.1 ratio), $22.50/M output
    assert pricing.cost(long, price) == Decimal("0.7425")
    without = pricing.Price(Decimal(3), Decimal(15), Decimal("3.75"), Decimal(6), Decimal("0.30"))
    assert pricing.cost(long, without) == Decimal("0.375")
