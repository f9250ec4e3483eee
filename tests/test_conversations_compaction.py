"""Long conversations (conversations/claude/compaction.py) end to end against the fake Messages
API: the exact context edits a request carries, the summary the API returns stored as a block and
sent back verbatim as the start of later requests, a 120-turn chat that still carries its first
turn's fact while each request stays under the trigger, cleared tool results said on the page, the
compaction errors in words, and the old behaviour (leaving out the oldest turns, and saying so)
where compaction is unavailable."""

import httpx2
import pytest
from anthropic import types as api_types
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from conversations import services
from conversations.claude import compaction, llm
from conversations.claude.capabilities import capabilities
from conversations.models import ContentBlock, Message
from conversations.reply.anthropic_request import Turn, build_request
from fakes import Reply
from fakes import compaction as fake_compaction
from fakes.tokens import estimate_input_tokens
from tests.helpers import run_to_end, send, start_chat

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 2_000  # the model's input limit in these tests: compaction at 75% of it
WORDS = " ".join(f"word{i}" for i in range(100))  # about 190 tokens by the fake's count


@pytest.fixture
def small_model(monkeypatch, settings):
    settings.CHAT_COMPACTION = True
    settings.CHAT_COMPACTION_TRIGGER = 0.75
    settings.CHAT_MAX_TOKENS = 100  # the window left for the reply: leaving out turns stays off
    monkeypatch.setattr(compaction.catalog, "input_limit", lambda model, context_1m=False: LIMIT)


async def test_the_request_carries_the_compaction_edit_through_the_beta(fake_api, alice, small_model):
    """A chat without tools: the compaction edit alone (with tools: the next test)."""
    fake_api.enqueue(Reply("Hello."))
    conversation, reply = await start_chat(alice, "Hi", "claude-sonnet-4-6")
    await sync_to_async(services.conversation_configure)(
        conversation=conversation, model=conversation.model, params={"tools": False}
    )
    await run_to_end(reply)
    request = fake_api.message_requests[-1]
    assert request.body["context_management"] == {
        "edits": [{"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 1500}}]
    }
    assert "compact-2026-01-12" in request.headers.get("anthropic-beta", "")
    assert "betas" not in request.body  # the SDK sends them as the header


async def test_with_tools_old_results_are_cleared_first_and_the_reply_says_so(fake_api, alice, small_model):
    conversation, reply = await start_chat(alice, "Hi", "claude-sonnet-4-6")
    await Message.objects.filter(pk=reply.pk).aupdate(status="complete")
    await sync_to_async(services.conversation_configure)(
        conversation=conversation, model=conversation.model, params={"web": True}
    )
    calls = [
        {"type": "server_tool_use", "id": f"srvtoolu_{i}", "name": "web_search", "input": {"query": f"q{i}"}}
        for i in range(5)
    ]
    results = [
        {"type": "web_search_tool_result", "tool_use_id": f"srvtoolu_{i}", "content": []} for i in range(5)
    ]
    blocks = [block for pair in zip(calls, results, strict=True) for block in pair]
    await sync_to_async(ContentBlock.objects.bulk_create)(
        [ContentBlock(message=reply, index=i, type=b["type"], payload=b) for i, b in enumerate(blocks)]
        + [ContentBlock(message=reply, index=10, type="text", payload={"type": "text", "text": WORDS * 5})]
    )
    fake_api.enqueue(Reply("Fresh answer."))
    answered = await send(conversation, "And now?")
    body = fake_api.message_requests[-1].body
    assert [edit["type"] for edit in body["context_management"]["edits"]] == [
        "clear_tool_uses_20250919",
        "compact_20260112",
    ]
    assert body["context_management"]["edits"][0]["keep"] == {"type": "tool_uses", "value": 3}
    header = fake_api.message_requests[-1].headers["anthropic-beta"]
    assert "context-management-2025-06-27" in header and "compact-2026-01-12" in header
    assert answered.options["cleared_tool_uses"] == 2
    html = await sync_to_async(page_of)(alice, conversation.pk)
    assert "The model no longer sees the results of 2 older tool calls" in html


def page_of(user, conversation_id: int) -> str:
    client = Client()
    client.force_login(user)
    return client.get(reverse("conversation", args=[conversation_id])).content.decode()


async def test_a_long_chat_is_summarized_sent_back_verbatim_and_keeps_its_first_fact(
    fake_api, alice, small_model
):
    """120 turns: each request stays under the trigger (plus the turn that crossed it), and the
    first turn's fact is always in it, in a user turn or in the summary that opens the request."""
    fake_api.enqueue(Reply("Noted."))
    conversation, reply = await start_chat(alice, "My cat is called Ziggy. " + WORDS, "claude-sonnet-4-6")
    await run_to_end(reply)
    sizes, summaries = {}, 0
    for turn in range(2, 121):
        fake_api.enqueue(Reply(f"Answer {turn}."))
        question = "What is my cat called?" if turn == 120 else f"Turn {turn}: {WORDS}"
        answered = await send(conversation, question)
        assert answered.status == "complete", answered.error
        body = fake_api.message_requests[-1].body
        sizes[turn] = estimate_input_tokens(body)
        first = body["messages"][0]
        opened_by_summary = first["role"] == "assistant" and first["content"][0]["type"] == "compaction"
        assert "Ziggy" in str(body["messages"]), turn
        assert sizes[turn] <= 1500 + 400, (turn, sizes[turn])  # never far past the trigger
        summaries += opened_by_summary
        if turn in (50, 120):
            assert opened_by_summary, turn
    stored = [
        b async for b in ContentBlock.objects.filter(message__conversation=conversation, type="compaction")
    ]
    assert len(stored) >= 5 and summaries >= 100
    # Sent back exactly as the API made it: the newest summary opens the last request.
    newest = stored[-1].payload
    assert fake_api.message_requests[-1].body["messages"][0]["content"][0] == newest
    assert newest["signature"] == fake_compaction.sign(newest["content"])
    # The page keeps the whole history, with a quiet marker that opens the summary.
    html = await sync_to_async(page_of)(alice, conversation.pk)
    assert "My cat is called Ziggy." in html and "Earlier messages were summarized" in html
    print(
        f"\ninput tokens per request (fake's count): turn 50 {sizes[50]}, 100 {sizes[100]}, 120 {sizes[120]}"
    )


def test_each_compaction_error_is_said_in_words(settings):
    settings.CHAT_USE_LOCAL_MODEL = False
    request = httpx2.Request("POST", "https://api.example/v1/messages")
    cases = {
        api_types.CompactionBlockMisplacedError: "is not where the Claude API wants it",
        api_types.CompactionContentMismatchError: "was changed after it was made",
        api_types.CompactionUnavailableError: "could not summarize the earlier messages now",
        api_types.CompactionNothingToSummarizeError: "nothing yet to summarize",
    }
    for error_class, words in cases.items():
        response = httpx2.Response(400, request=request, headers={"request-id": "req_1"})
        body = {"type": "error", "error": {"type": "invalid_request_error", "message": "no"}}
        text, request_id = llm.describe_error(error_class("no", response=response, body=body))
        assert words in text and request_id == "req_1", error_class


async def test_a_changed_summary_is_refused_by_the_api_and_shown_as_such(fake_api, alice, small_model):
    fake_api.enqueue(Reply("Noted."))
    conversation, reply = await start_chat(alice, "Start. " + WORDS * 9, "claude-sonnet-4-6")
    reply = await run_to_end(reply)
    summary = await ContentBlock.objects.aget(message=reply, type="compaction")
    summary.payload = {**summary.payload, "content": summary.payload["content"] + " (edited)"}
    await summary.asave()
    answered = await send(conversation, "Go on")
    assert answered.status == "error"
    assert "The summary of earlier messages was changed after it was made" in answered.error


async def test_without_compaction_the_oldest_turns_go_and_the_reply_says_so(fake_api, alice, settings):
    settings.CHAT_COMPACTION = False
    fake_api.enqueue(Reply("Hello."))
    _, reply = await start_chat(alice, "Hi", "claude-sonnet-4-6")
    await run_to_end(reply)
    body = fake_api.message_requests[-1].body
    assert "context_management" not in body
    assert "anthropic-beta" not in fake_api.message_requests[-1].headers
    settings.CHAT_COMPACTION = True  # a model the table gives no compaction: none either
    assert not compaction.offered("claude-haiku-4-5", capabilities("claude-haiku-4-5"))
    assert compaction.offered("claude-sonnet-4-6", capabilities("claude-sonnet-4-6"))


def test_a_projects_knowledge_still_goes_with_a_chat_that_was_summarized():
    """The summary opens the request; the knowledge starts the first user turn after it."""
    summary = {"type": "compaction", "content": "Summary.", "signature": "sig"}
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Facts."}}
    turns = [
        Turn("user", [{"type": "text", "text": "Old question"}]),
        Turn("assistant", [summary, {"type": "text", "text": "Answer."}]),
        Turn("user", [{"type": "text", "text": "New question"}]),
    ]
    request = build_request(
        turns=turns, model="claude-sonnet-4-6", max_tokens=10, user_id="u", knowledge=[document]
    )
    first, second = request["messages"]
    assert first["role"] == "assistant" and first["content"][0] == summary
    assert second["content"][0] == {**document, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    assert "Old question" not in str(request["messages"])
