"""One send, however it came (conversations/sending.py): the composer's POST made a SendCommand,
the user's own conversation and attachments or a 404 (the same for someone else's as for none),
a refusal the composer shows with nothing stored, and the turn's HTML on success."""

import pytest
from django.http import Http404, QueryDict

from conversations import sending, services
from conversations.forms import MAX_ID
from conversations.models import Attachment, Conversation, Message
from conversations.sending import SendCommand
from conversations.services import ChatError

pytestmark = pytest.mark.django_db


def post(query: str, *, start: bool = False) -> SendCommand:
    return sending.command_from_post(QueryDict(query), start=start)


def attachment(user, name: str) -> Attachment:
    return Attachment.objects.create(
        owner=user, name=name, media_type="text/plain", size=1, sha256=name, storage_key=name
    )


@pytest.fixture
def chat(alice) -> Conversation:
    conversation, reply = services.conversation_start(user=alice, text="First", model="m")
    Message.objects.filter(pk=reply.pk).update(status="complete")
    return conversation


# --- the composer's POST as a command ----------------------------------------------------------


def test_a_message_post_is_its_text_as_typed_and_its_attachment_ids():
    command = post("text=+Hi+there+&attachment=3&attachment=5&model=claude-x&prompt=2")
    assert command == SendCommand(" Hi there ", (3, 5))  # the new-chat choices are not a message's


def test_a_new_chats_post_carries_the_pages_choices():
    command = post("text=Hi&model=claude-haiku-4-5&prompt=2&timezone=Europe/Paris", start=True)
    assert command == SendCommand("Hi", (), model="claude-haiku-4-5", prompt_id=2, timezone="Europe/Paris")


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1" * 30, "٣"])
def test_an_attachment_id_that_cannot_exist_is_a_404(bad):
    with pytest.raises(Http404):
        post(f"text=Hi&attachment={bad}")


@pytest.mark.parametrize("bad", ["x", "0", str(MAX_ID + 1)])
def test_a_prompt_that_cannot_exist_is_refused_in_the_composer(bad):
    with pytest.raises(ChatError, match=sending.NO_SUCH_PROMPT):
        post(f"text=Hi&prompt={bad}", start=True)


def test_anything_else_wrong_is_refused_with_the_forms_first_error():
    with pytest.raises(ChatError, match="at most 100 characters"):
        post(f"text=Hi&model={'m' * 101}", start=True)


# --- a message in a conversation ---------------------------------------------------------------


def test_a_message_is_stored_with_a_streaming_reply_and_its_turn_rendered(alice, chat):
    sent = sending.message_post(user=alice, conversation_id=chat.pk, command=SendCommand("<b>Next</b>"))
    assert sent.conversation == chat and sent.reply.status == "streaming"
    assert sent.reply.parent.blocks.get().payload == {"type": "text", "text": "<b>Next</b>"}
    assert "&lt;b&gt;Next&lt;/b&gt;" in sent.html and "<b>Next</b>" not in sent.html
    # The empty reply is in the page before its first frame can arrive.
    assert f'id="message-{sent.reply.pk}"' in sent.html and 'data-status="streaming"' in sent.html


def test_someone_elses_conversation_is_a_404_and_nothing_is_stored(bob, chat):
    before = Message.objects.count()
    for conversation_id in (chat.pk, chat.pk + 100):
        with pytest.raises(Http404):
            sending.message_post(user=bob, conversation_id=conversation_id, command=SendCommand("Hi"))
    assert Message.objects.count() == before


@pytest.mark.parametrize("whose", ["bob", "nobody", "out of range"])
def test_an_attachment_not_the_senders_is_a_404_and_nothing_is_stored(alice, bob, chat, whose):
    ids = {
        "bob": lambda: attachment(bob, "bobs").pk,
        "nobody": lambda: attachment(alice, "mine").pk + 100,
        "out of range": lambda: MAX_ID + 1,  # a websocket frame's ids never passed the form
    }
    before = Message.objects.count()
    command = SendCommand("Look", (ids[whose](),))
    with pytest.raises(Http404, match="No such attachment"):
        sending.message_post(user=alice, conversation_id=chat.pk, command=command)
    assert Message.objects.count() == before


def test_a_refused_message_stores_nothing(alice, chat):
    before = Message.objects.count()
    with pytest.raises(ChatError, match="Type a message first"):
        sending.message_post(user=alice, conversation_id=chat.pk, command=SendCommand("   "))
    assert Message.objects.count() == before


# --- a new conversation ------------------------------------------------------------------------


def test_a_new_chat_uses_the_chosen_model_when_it_is_offered_else_the_default(
    alice, fake_api, fresh_catalog, settings
):
    chosen = sending.conversation_post(user=alice, command=SendCommand("Hi", model="claude-haiku-4-5"))
    unknown = sending.conversation_post(user=alice, command=SendCommand("Hi", model="claude-unknown-9"))
    assert chosen.conversation.model == "claude-haiku-4-5"
    assert unknown.conversation.model == settings.CHAT_DEFAULT_MODEL != "claude-unknown-9"
    assert "Hi" in chosen.html


def test_a_new_chat_gets_the_latest_version_of_a_prompt_the_user_may_use(people, prompt):
    sent = sending.conversation_post(user=people["member"], command=SendCommand("Hi", prompt_id=prompt.pk))
    assert sent.conversation.prompt_version == prompt.latest


@pytest.mark.parametrize(("who", "which"), [("outsider", "the team's"), ("member", "none")])
def test_a_prompt_the_user_may_not_use_is_refused_and_no_chat_is_made(people, prompt, who, which):
    prompt_id = prompt.pk if which == "the team's" else MAX_ID + 1  # a frame's id never passed the form
    with pytest.raises(ChatError, match=sending.NO_SUCH_PROMPT):
        sending.conversation_post(user=people[who], command=SendCommand("Hi", prompt_id=prompt_id))
    assert not Conversation.objects.filter(owner=people[who]).exists()


def test_a_new_chats_attachment_not_the_users_is_a_404_and_no_chat_is_made(alice, bob):
    command = SendCommand("Look", (attachment(bob, "bobs").pk,))
    with pytest.raises(Http404):
        sending.conversation_post(user=alice, command=command)
    assert not Conversation.objects.filter(owner=alice).exists()
