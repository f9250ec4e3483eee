"""The sidebar's writes (conversations/library/organising.py) on a clock the test controls: pin and
archive leave `updated_at` alone, a delete can be undone until its window closes and is purged
after it, the purge keeps shares as revoked audit rows and removes only the files nobody else uses."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from conversations import services
from conversations.library import organising, sharing
from conversations.models import Attachment, ContentBlock, Conversation, Message, Share
from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db

WINDOW = timedelta(seconds=organising.UNDO_SECONDS + organising.UNDO_GRACE_SECONDS)


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def conversation(user, title: str = "Chat") -> Conversation:
    return Conversation.objects.create(owner=user, title=title, model="m")


def with_image(chat: Conversation, image: Attachment) -> None:
    message = Message.objects.create(conversation=chat, role="user")
    payload = {"type": "image", "attachment_id": image.pk}
    ContentBlock.objects.create(message=message, index=0, type="image", payload=payload)


def test_pinning_and_archiving_set_and_clear_their_time_and_leave_updated_at(alice, clock):
    chat = conversation(alice)
    touched = Conversation.objects.get(pk=chat.pk).updated_at
    clock.shift(timedelta(hours=1))
    organising.conversation_pin(conversation=chat, pinned=True)
    organising.conversation_archive(conversation=chat, archived=True)
    stored = Conversation.objects.get(pk=chat.pk)
    assert stored.pinned_at == stored.archived_at == timezone.now() == chat.pinned_at
    assert stored.updated_at == touched  # nothing moves between the sidebar's date groups
    organising.conversation_pin(conversation=chat, pinned=False)
    organising.conversation_archive(conversation=chat, archived=False)
    stored = Conversation.objects.get(pk=chat.pk)
    assert (stored.pinned_at, stored.archived_at, stored.updated_at) == (None, None, touched)


def test_a_delete_can_be_undone_until_its_window_closes(alice, clock):
    chat = conversation(alice)
    organising.conversation_trash(conversation=chat)
    assert not Conversation.objects.visible().filter(pk=chat.pk).exists()
    clock.shift(WINDOW - timedelta(seconds=1))
    assert organising.deleted_conversation_for_user(alice, chat.pk) == chat
    organising.conversation_restore(conversation=chat)
    assert Conversation.objects.visible().filter(pk=chat.pk).exists()

    organising.conversation_trash(conversation=chat)
    clock.shift(WINDOW + timedelta(seconds=1))
    assert organising.deleted_conversation_for_user(alice, chat.pk) is None


def test_only_the_owner_can_undo_a_delete(alice, bob):
    chat = conversation(alice)
    organising.conversation_trash(conversation=chat)
    assert organising.deleted_conversation_for_user(bob, chat.pk) is None
    assert organising.deleted_conversation_for_user(alice, chat.pk) == chat


def test_a_delete_is_purged_for_good_once_its_window_has_closed(alice, clock):
    chat = conversation(alice)
    organising.conversation_trash(conversation=chat)
    clock.shift(WINDOW - timedelta(seconds=1))
    assert organising.deleted_conversations_purge() == 0
    clock.shift(timedelta(seconds=2))
    assert organising.deleted_conversations_purge() == 1
    assert not Conversation.objects.filter(pk=chat.pk).exists()


def test_a_purged_conversations_shares_stay_revoked_without_their_snapshot(people, team, clock):
    chat = conversation(people["owner"], "Shared plan")
    yesterday = timezone.now() - timedelta(days=1)
    revoked_earlier = Share.objects.create(
        conversation=chat,
        team=team,
        shared_by=people["owner"],
        title="Old",
        snapshot={"x": 1},
        revoked_at=yesterday,
    )
    share = sharing.share_create(conversation=chat, team=team)
    organising.conversation_trash(conversation=chat)
    clock.shift(WINDOW + timedelta(seconds=1))
    organising.deleted_conversations_purge()
    share.refresh_from_db()
    revoked_earlier.refresh_from_db()
    assert (share.title, share.snapshot, share.revoked_at) == ("Shared plan", {}, timezone.now())
    assert revoked_earlier.revoked_at == yesterday  # its own date kept


def test_a_purge_removes_only_the_files_no_remaining_conversation_uses(
    alice, media, clock, django_capture_on_commit_callbacks
):
    shared = services.attachment_store(user=alice, name="shared.png", data=image_bytes(10, 10))
    own = services.attachment_store(user=alice, name="own.png", data=image_bytes(12, 12))
    doomed, kept = conversation(alice), conversation(alice)
    with_image(doomed, shared)
    with_image(doomed, own)
    with_image(kept, shared)
    organising.conversation_trash(conversation=doomed)
    clock.shift(WINDOW + timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        organising.deleted_conversations_purge()
    assert list(Attachment.objects.all()) == [shared]
    assert (media / shared.storage_key).exists() and not (media / own.storage_key).exists()
