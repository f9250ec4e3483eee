"""After a failed reply: what the next send carries, and what the page says about it. A reply that
failed before any output leaves its question unanswered; Retry sends that turn again, and a new
message sends it too, merged before the new one (anthropic_request.build_messages); the page says
which. Such a reply has nothing to copy."""

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations.models import Message
from fakes import HttpError, Reply
from tests.helpers import add_blocks, run_to_end, send, start_chat

pytestmark = pytest.mark.django_db(transaction=True)

SENT_LATER = "This question was sent again, before the next message."
RETRY_NOTE = "Retry sends this question again. A new message sends it too, before yours."


async def failed_chat(fake_api, alice):
    fake_api.enqueue(HttpError(400, message="The request was refused."))
    conversation, reply = await start_chat(alice, "First question", "claude-sonnet-4-6")
    reply = await run_to_end(reply)
    assert reply.status == "error" and not await reply.blocks.aexists()
    return conversation, reply


async def article(client, message: Message) -> str:
    """The message's element in its conversation's page, as its owner gets it."""
    page = (await client.get(reverse("conversation", args=[message.conversation_id]))).content.decode()
    start = page.index(f'id="message-{message.pk}"')
    return page[start : page.index("</article>", start)]


async def test_a_failed_reply_says_what_retry_and_a_new_message_send_and_offers_no_copy(
    async_client, fake_api, alice
):
    conversation, reply = await failed_chat(fake_api, alice)
    await async_client.aforce_login(alice)
    failed = await article(async_client, reply)
    assert RETRY_NOTE in failed and ">Retry</button>" in failed
    assert "Copy reply" not in failed

    fake_api.enqueue(Reply("Both answered."))
    answered = await send(conversation, "Second question")
    assert answered.status == "complete"
    body = fake_api.message_requests[-1].body
    assert [m["role"] for m in body["messages"]] == ["user"]  # one user turn, as the page says
    texts = [block["text"] for block in body["messages"][0]["content"] if block["type"] == "text"]
    assert texts == ["First question", "Second question"]

    failed = await article(async_client, reply)
    assert SENT_LATER in failed and RETRY_NOTE not in failed and ">Retry</button>" not in failed
    assert "Copy reply" in await article(async_client, answered)


async def test_a_failed_reply_with_partial_text_is_history_and_can_be_copied(async_client, fake_api, alice):
    conversation, reply = await failed_chat(fake_api, alice)
    await Message.objects.filter(pk=reply.pk).aupdate(error="cut mid-reply")
    await sync_to_async(add_blocks)(reply, [{"type": "text", "text": "Partial answer"}])
    await async_client.aforce_login(alice)
    failed = await article(async_client, reply)
    assert "Copy reply" in failed and "unanswered" not in failed
