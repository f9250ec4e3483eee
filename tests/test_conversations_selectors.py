"""Reads scoped to the requesting user (conversations/selectors.py): each returns the user's own
rows and nothing of anyone else's, the same answer for someone else's row as for none, and
hides what is deleted. Branches and actions are in test_conversations_versions.py."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from conversations import selectors
from conversations.models import Attachment, Conversation, Message, ProducedFile
from teams import services as team_services
from teams.models import Membership

pytestmark = pytest.mark.django_db


def conversation(user, title: str = "Chat", **fields) -> Conversation:
    return Conversation.objects.create(owner=user, title=title, model="m", **fields)


def attachment(user, name: str, file_id: str = "") -> Attachment:
    return Attachment.objects.create(
        owner=user, name=name, media_type="image/png", size=1, sha256=name, storage_key=name, file_id=file_id
    )


# --- conversations -----------------------------------------------------------------------------


def test_the_list_is_the_users_live_conversations_newest_first(alice, bob):
    conversation(alice, "Newer")
    older = conversation(alice, "Older")  # made last, last touched a day ago
    Conversation.objects.filter(pk=older.pk).update(updated_at=timezone.now() - timedelta(days=1))
    conversation(alice, "Archived", archived_at=timezone.now())
    conversation(alice, "Deleted", deleted_at=timezone.now())
    conversation(alice, "Scrubbed", scrubbed_at=timezone.now())
    conversation(bob, "Bob's")
    assert [c.title for c in selectors.conversation_list_for_user(alice)] == ["Newer", "Older"]


def test_someone_elses_conversation_is_the_same_404_as_none(alice, bob):
    mine, bobs = conversation(alice), conversation(bob)
    assert selectors.owned_conversation(alice, mine.pk) == mine
    for conversation_id in (bobs.pk, bobs.pk + 100):
        assert selectors.conversation_for_user(alice, conversation_id) is None
        with pytest.raises(Http404, match="No such conversation"):
            selectors.owned_conversation(alice, conversation_id)
    assert selectors.conversation_for_user(AnonymousUser(), mine.pk) is None


def test_a_deleted_conversation_and_its_messages_are_not_found(alice):
    chat = conversation(alice)
    message = Message.objects.create(conversation=chat, role="user")
    assert selectors.message_for_user(alice, message.pk) == message
    Conversation.objects.filter(pk=chat.pk).update(deleted_at=timezone.now())
    assert selectors.conversation_for_user(alice, chat.pk) is None
    assert selectors.message_for_user(alice, message.pk) is None


def test_someone_elses_message_is_not_found(alice, bob):
    message = Message.objects.create(conversation=conversation(bob), role="user")
    assert selectors.message_for_user(alice, message.pk) is None


# --- files -------------------------------------------------------------------------------------


def test_attachments_come_back_in_the_order_asked_or_not_at_all(alice, bob):
    first, second, bobs = attachment(alice, "a"), attachment(alice, "b"), attachment(bob, "c")
    assert selectors.attachments_for_user(alice, [second.pk, first.pk]) == [second, first]
    assert selectors.attachments_for_user(alice, [first.pk, bobs.pk]) is None  # one is someone else's
    assert selectors.attachments_for_user(alice, [first.pk, bobs.pk + 100]) is None  # one does not exist
    assert selectors.attachments_for_user(alice, []) == []


def test_only_the_owner_views_an_attachment_staff_included(alice, staff):
    image = attachment(alice, "scan")
    assert selectors.attachment_for_viewer(alice, image.pk) == image
    assert selectors.attachment_for_viewer(staff, image.pk) is None  # only in an audited opening


def test_a_file_code_made_is_its_conversation_owners_while_the_conversation_is_not_deleted(alice, bob):
    chat = conversation(alice)
    made = ProducedFile.objects.create(conversation=chat, file_id="file_1", filename="chart.png")
    assert selectors.produced_file_for_owner(alice, chat.pk, "file_1") == made
    assert selectors.produced_file_for_owner(bob, chat.pk, "file_1") is None
    assert selectors.produced_file_for_owner(alice, conversation(alice).pk, "file_1") is None  # another chat
    Conversation.objects.filter(pk=chat.pk).update(deleted_at=timezone.now())
    assert selectors.produced_file_for_owner(alice, chat.pk, "file_1") is None


def test_owned_file_ids_are_the_users_uploads_and_files_made_in_their_chats(
    alice, bob, django_assert_num_queries
):
    attachment(alice, "mine", file_id="file_upload")
    attachment(bob, "bobs", file_id="file_bob")
    ProducedFile.objects.create(conversation=conversation(alice), file_id="file_made", filename="a.csv")
    ProducedFile.objects.create(conversation=conversation(bob), file_id="file_bob_made", filename="b.csv")
    asked = {"file_upload", "file_made", "file_bob", "file_bob_made", "file_unknown"}
    assert selectors.owned_file_ids(alice.pk, asked) == {"file_upload", "file_made"}
    with django_assert_num_queries(0):
        assert selectors.owned_file_ids(alice.pk, set()) == set()


# --- prompts -----------------------------------------------------------------------------------


def test_a_newer_prompt_version_is_offered_while_the_user_may_still_use_the_prompt(people, team, prompt):
    member = people["member"]
    chat = conversation(member, prompt_version=prompt.latest)
    assert selectors.newer_prompt_version(member, chat) is None  # pinned to the latest
    newer = team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name=prompt.name, text="Be kinder.", cache_ttl="5m"
    )
    assert selectors.newer_prompt_version(member, chat) == newer
    Membership.objects.filter(team=team, user=member).delete()
    assert selectors.newer_prompt_version(member, chat) is None  # no longer in the team


def test_a_conversation_without_a_prompt_has_no_newer_version(alice):
    assert selectors.newer_prompt_version(alice, conversation(alice)) is None


# --- the page's messages -----------------------------------------------------------------------


def test_the_pages_messages_take_two_queries_however_many_there_are(alice, django_assert_num_queries):
    chat = conversation(alice)
    parent = None
    for i in range(6):
        parent = Message.objects.create(
            conversation=chat, role="user" if i % 2 == 0 else "assistant", parent=parent, status="complete"
        )
    with django_assert_num_queries(2):
        messages = selectors.chosen_messages(chat.pk)
        assert [len(m.block_list) for m in messages] == [0] * 6
    assert [m.pk for m in messages][-1] == parent.pk and messages[-1].is_leaf
