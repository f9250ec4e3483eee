"""Writes around a reply: regenerate, edit and resend, one streaming reply per conversation, and the
options each reply keeps.
The sweep of replies a dead worker left streaming is a fault: tests/test_faults.py (restart mid-reply)."""

import pytest
from asgiref.sync import sync_to_async

from conversations import selectors, services
from conversations.models import Message
from conversations.reply import generation
from conversations.templatetags.chat import usage_badge
from fakes import Reply
from tests.helpers import LONG_TEXT, payloads, run_reply, start_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_regenerate_keeps_the_old_reply_as_a_previous_version(fake_api, alice):
    fake_api.enqueue(Reply("First try"), Reply("Second try"))
    conversation, reply = await run_reply(alice, text="Tell me a joke")
    new = await sync_to_async(services.reply_regenerate)(reply=reply)
    generation.start(new)
    await generation.wait_all()
    old = await Message.objects.aget(pk=reply.pk)
    assert (await payloads(old))[0]["text"] == "First try"
    # The old reply is the previous version: a sibling of the new one, off the branch shown.
    shown = await sync_to_async(selectors.chosen_messages)(conversation.pk)
    assert new.parent_id == old.parent_id and [m.pk for m in shown] == [old.parent_id, new.pk]
    assert (await payloads(await Message.objects.aget(pk=new.pk)))[0]["text"] == "Second try"
    # The new request is the question alone: the old reply is never sent again.
    assert [m["role"] for m in fake_api.message_requests[-1].body["messages"]] == ["user"]
    question = await Message.objects.aget(pk=old.parent_id)
    with pytest.raises(services.ChatError):
        await sync_to_async(services.reply_regenerate)(reply=question)


async def test_edit_the_last_message_and_resend(fake_api, alice, client):
    fake_api.enqueue(Reply("About cats"), Reply("About dogs"))
    conversation, reply = await run_reply(alice, text="Tell me about cats")
    question = await Message.objects.filter(conversation=conversation, role="user").afirst()
    _, new_reply = await sync_to_async(services.message_edit)(message=question, text="Tell me about dogs")
    generation.start(new_reply)
    await generation.wait_all()
    sent = fake_api.message_requests[-1].body["messages"]
    assert len(sent) == 1 and sent[0]["content"][0]["text"] == "Tell me about dogs"
    # The old question and its reply stay, as the other branch: the page shows the new one.
    assert await Message.objects.filter(conversation=conversation).acount() == 4
    page = await sync_to_async(lambda: (client.force_login(alice), client.get(f"/c/{conversation.pk}/"))[1])()
    html = page.content.decode()
    assert "2 / 2" in html and "About dogs" in html and "About cats" not in html and "Regenerate" in html
    with pytest.raises(services.ChatError, match="Only your own messages"):
        await sync_to_async(services.message_edit)(message=reply, text="again")


async def test_only_one_reply_streams_per_conversation(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=100))
    conversation, reply = await start_chat(alice)
    generation.start(reply)
    with pytest.raises(services.ReplyInProgress):
        await sync_to_async(services.message_send)(conversation=conversation, text="again")
    await generation.wait_all()
    await sync_to_async(services.message_send)(conversation=conversation, text="now it works")


def test_a_reply_keeps_the_options_it_was_made_with_when_the_settings_change(alice):
    sonnet, opus = "claude-sonnet-4-6", "claude-opus-4-8"
    conversation, first = services.conversation_start(user=alice, text="Hi", model=sonnet)
    Message.objects.filter(pk=first.pk).update(status="complete")
    services.conversation_configure(
        conversation=conversation, model=sonnet, params={"temperature": 0.2, "max_tokens": 1000}
    )
    _, reply = services.message_send(conversation=conversation, text="Again")
    switches = {"thinking": False, "tools": True, "web": False, "code": False}
    made_with = {"model": sonnet, **switches, "temperature": 0.2, "max_tokens": 1000}
    Message.objects.filter(pk=reply.pk).update(status="error", output_tokens=4)

    services.conversation_configure(
        conversation=conversation, model=opus, params={"thinking": True, "effort": "max", "code": True}
    )

    reply, first = Message.objects.get(pk=reply.pk), Message.objects.get(pk=first.pk)
    assert reply.options == made_with and first.options == {"model": sonnet, **switches}
    assert usage_badge(reply).split('title="')[1].startswith("input 0 · cache read 0")
    assert "output 4 tokens · temperature 0.2 · max tokens 1,000" in usage_badge(reply)
    # Retry runs it again as the conversation is set now, and keeps that instead.
    retried = services.reply_retry(reply=reply)
    assert retried.options == {"model": opus, **switches, "thinking": True, "effort": "max", "code": True}
