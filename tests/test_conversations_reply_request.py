"""The request for one reply: the stored history replayed, and the parameters as request options."""

import pytest
from asgiref.sync import sync_to_async

from conversations import services
from conversations.claude import params
from conversations.claude.capabilities import capabilities
from conversations.models import Message
from conversations.reply import generation, reply_request
from fakes import Reply
from tests.helpers import start_chat


@pytest.mark.django_db(transaction=True)
async def test_next_turn_replays_the_stored_history(fake_api, alice):
    fake_api.enqueue(Reply("First answer"), Reply("Second answer"))
    conversation, reply = await start_chat(alice, "First question")
    generation.start(reply)
    await generation.wait_all()
    _, second = await sync_to_async(services.message_send)(conversation=conversation, text="Second question")
    generation.start(second)
    await generation.wait_all()

    body = fake_api.message_requests[-1].body
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "First question"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "First answer"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Second question", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    assert body["stream"] is True
    assert body["metadata"]["user_id"] not in {"alice", "alice@example.com", str(alice.pk)}


def test_valid_parameters_map_to_the_request():
    parsed, errors = params.parse(
        {"thinking": True, "effort": "high", "stop_sequences": ["END"], "tools": False, "max_tokens": 2000},
        capabilities("claude-opus-4-8"),
    )
    assert errors == []
    assert reply_request.request_options(parsed, capabilities("claude-opus-4-8")) == {
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": "high"},
        "stop_sequences": ["END"],
    }
    sonnet, _ = params.parse(
        {"temperature": 0.3, "top_k": 40, "tools": False}, capabilities("claude-sonnet-4-6")
    )
    assert reply_request.request_options(sonnet, capabilities("claude-sonnet-4-6")) == {
        "extra_body": {"temperature": 0.3, "top_k": 40}
    }


def test_the_request_says_which_documents_it_sends_and_leaves_the_reply_untouched(alice, media):
    notes = services.attachment_store(user=alice, name="notes.md", data=b"# Notes\nShip Friday.\n")
    _, reply = services.conversation_start(
        user=alice, text="When?", model="claude-sonnet-4-6", attachments=[notes]
    )
    reply = Message.objects.select_related("conversation__prompt_version").get(pk=reply.pk)

    built = reply_request.request_for(reply, own_blocks=[])

    assert built.cited_documents == [notes.pk]  # what a citation's document_index counts
    assert built.body["messages"][0]["content"][0]["title"] == "notes.md"
    assert reply.cited_documents == []  # read from the result, never written onto the reply
