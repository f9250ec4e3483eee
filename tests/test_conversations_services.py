"""Writes around a reply: regenerate, edit and resend, and one streaming reply per conversation.
The sweep of replies a dead worker left streaming is a fault: tests/test_faults.py (restart mid-reply)."""

import pytest
from asgiref.sync import sync_to_async

from conversations import selectors, services
from conversations.models import Message
from conversations.reply import generation
from fakes import Reply
from tests.helpers import LONG_TEXT, payloads, run_reply, start_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_regenerate_keeps_the_old_reply_as_a_previous_version(fake_api, alice):
    fake_api.enqueue(Reply("First try"), Reply("Second try"))
    conversation, reply = await run_reply(alice, text="Tell me a joke")
    new = await sync_to_async(services.reply_regenerate)(reply=reply)
    generation.start(new.pk)
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
    generation.start(new_reply.pk)
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
    generation.start(reply.pk)
    with pytest.raises(services.ReplyInProgress):
        await sync_to_async(services.message_send)(conversation=conversation, text="again")
    await generation.wait_all()
    await sync_to_async(services.message_send)(conversation=conversation, text="now it works")
