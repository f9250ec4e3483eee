"""The context budget: count_tokens sizes the request; the oldest turns are left out to fit."""

import pytest
from asgiref.sync import sync_to_async
from django.template.loader import render_to_string

from conversations.models import ContentBlock, Conversation, Message
from conversations.reply import context_window
from fakes import Reply
from tests.helpers import send

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "q" * 400  # 100 tokens by the fake's count


def history(user, exchanges: int) -> Conversation:
    """Earlier turns of exactly 100 tokens each by the fake's count (400 characters)."""
    conversation = Conversation.objects.create(owner=user, title="long", model="m")
    message = None
    for n in range(exchanges):
        for role in ("user", "assistant"):
            message = Message.objects.create(
                conversation=conversation, parent=message, role=role, status="complete"
            )
            ContentBlock.objects.create(
                message=message, index=0, type="text", payload={"type": "text", "text": f"{n}{role[0]}" * 200}
            )
    return conversation


@pytest.fixture
def window(monkeypatch, settings):
    settings.CHAT_MAX_TOKENS = 100

    def set_window(tokens: int) -> None:
        """The model's input limit, as the model list (catalog.input_limit) would give it."""
        monkeypatch.setattr(context_window.catalog, "input_limit", lambda model, context_1m=False: tokens)

    return set_window


async def test_a_request_that_fits_exactly_is_sent_whole(fake_api, alice, window):
    conversation = await sync_to_async(history)(alice, 3)
    window(800)  # 700 tokens of history and question + 100 of max_tokens
    reply = await send(conversation, QUESTION)
    assert reply.trimmed == 0
    assert len(fake_api.message_requests[-1].body["messages"]) == 7


async def test_one_token_over_drops_the_oldest_exchange_and_says_so(fake_api, alice, window):
    conversation = await sync_to_async(history)(alice, 3)
    window(799)
    reply = await send(conversation, QUESTION)
    messages = fake_api.message_requests[-1].body["messages"]
    assert reply.trimmed == 2 and len(messages) == 5
    assert messages[0]["role"] == "user" and messages[0]["content"][0]["text"].startswith("1u")
    html = await sync_to_async(render_to_string)(
        "conversations/_message.html", {"message": reply, "blocks": []}
    )
    assert "The model no longer sees the first 2 messages of this chat" in html
    # Each dropped message was counted once, and the count is kept.
    counted = [m.token_count async for m in Message.objects.filter(conversation=conversation).order_by("id")]
    assert counted[:2] == [100, 101] and counted[2] is None


async def test_a_tool_call_is_never_separated_from_its_result(fake_api, alice, window):
    conversation = await sync_to_async(history)(alice, 1)
    first_reply = await Message.objects.filter(conversation=conversation, role="assistant").aget()
    call = {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "1"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "1"}
    await ContentBlock.objects.acreate(message=first_reply, index=1, type="tool_use", payload=call)
    await ContentBlock.objects.acreate(message=first_reply, index=2, type="tool_result", payload=result)
    window(400)  # too small for the first exchange: it goes as a whole
    reply = await send(conversation, QUESTION)
    messages = fake_api.message_requests[-1].body["messages"]
    assert reply.trimmed == 2 and [m["role"] for m in messages] == ["user"]


async def test_count_tokens_failing_falls_back_to_an_estimate(fake_api, alice, window, monkeypatch):
    from conversations.claude import llm

    async def broken(**kwargs):
        raise llm.anthropic.APIConnectionError(request=None)

    conversation = await sync_to_async(history)(alice, 1)
    window(100_000)
    client = llm.anthropic.AsyncAnthropic(base_url=fake_api.base_url, api_key="x")
    monkeypatch.setattr(client.messages, "count_tokens", broken)
    monkeypatch.setattr(llm, "get_client", lambda: client)
    assert await llm.count_tokens({"model": "m", "messages": [{"role": "user", "content": "x" * 400}]}) > 90
    fake_api.enqueue(Reply("fine"))
    assert (await send(conversation, QUESTION)).status == "complete"
