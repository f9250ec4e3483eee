"""Sharing with a team (conversations/library/sharing.py), without the views: who finds a share
(its owner, the team's members, nobody else, and nobody once it is revoked or its conversation
deleted), sharing again replaces the snapshot, and the snapshot as its readers see it."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from conversations import services
from conversations.library import sharing
from conversations.models import Conversation, Message
from teams import services as team_services
from tests.helpers import finish

pytestmark = pytest.mark.django_db

ANSWER = "Step one: **hire**. <script>alert(1)</script>"


@pytest.fixture
def chat(people) -> Conversation:
    conversation, reply = services.conversation_start(
        user=people["owner"], text="Quarterly *plan*", model="m"
    )
    finish(reply, {"type": "text", "text": ANSWER})
    return conversation


@pytest.fixture
def share(chat, team):
    return sharing.share_create(conversation=chat, team=team)


def test_a_conversation_is_shared_only_with_one_of_the_sharers_teams(people, team):
    assert sharing.team_for_sharing(people["owner"], team.pk) == team
    assert sharing.team_for_sharing(people["outsider"], team.pk) is None
    assert sharing.team_for_sharing(AnonymousUser(), team.pk) is None


def test_the_owner_and_the_teams_members_read_a_share_and_nobody_else(people, share):
    readers = {who: sharing.share_for_reader(people[who], share.pk) for who in people}
    assert readers == {"owner": share, "editor": share, "member": share, "outsider": None}
    assert sharing.share_for_reader(AnonymousUser(), share.pk) is None
    assert sharing.share_for_owner(people["owner"], share.pk) == share
    assert sharing.share_for_owner(people["member"], share.pk) is None  # reads it, cannot revoke it


def test_a_revoked_share_is_gone_for_everyone(people, share):
    sharing.share_revoke(share=share)
    assert sharing.share_for_reader(people["member"], share.pk) is None
    assert sharing.share_for_owner(people["owner"], share.pk) is None
    assert list(sharing.shares_for_member(people["member"])) == []


def test_a_deleted_conversation_takes_its_shares_away(people, chat, share):
    Conversation.objects.filter(pk=chat.pk).update(deleted_at=timezone.now())
    assert sharing.share_for_reader(people["member"], share.pk) is None
    assert sharing.shares_of(chat) == []


def test_a_member_leaving_the_team_loses_its_shares(people, team, share):
    assert list(sharing.shares_for_member(people["member"])) == [share]
    team_services.member_remove(membership=team.memberships.get(user=people["member"]))
    assert list(sharing.shares_for_member(people["member"])) == []
    assert sharing.share_for_reader(people["member"], share.pk) is None


def test_sharing_again_with_the_same_team_replaces_the_snapshot(people, team, chat, share):
    _, reply = services.message_send(conversation=chat, text="And step two?")
    finish(reply, {"type": "text", "text": "Train."})
    again = sharing.share_create(conversation=chat, team=team)
    share.refresh_from_db()
    assert share.revoked_at is not None
    assert sharing.shares_of(chat) == [again]
    assert [m["blocks"][0].payload["text"] for m in sharing.snapshot_messages(again)][-1] == "Train."


def test_later_messages_stay_out_of_a_snapshot(chat, share):
    _, reply = services.message_send(conversation=chat, text="A private follow-up")
    finish(reply, {"type": "text", "text": "Private answer."})
    texts = [m["blocks"][0].payload["text"] for m in sharing.snapshot_messages(share)]
    assert texts == ["Quarterly *plan*", ANSWER]


def test_a_conversations_shares_are_listed_by_team_name(people, team, chat, share):
    accounts = team_services.team_create(user=people["owner"], name="Accounts")
    other = sharing.share_create(conversation=chat, team=accounts)
    assert sharing.shares_of(chat) == [other, share]


def test_the_snapshot_shows_replies_rendered_and_sanitized_and_the_users_words_as_written(share):
    question, answer = sharing.snapshot_messages(share)
    assert (question["role"], answer["role"]) == ("user", "assistant")
    [asked] = question["blocks"]
    assert (asked.type, asked.payload["text"], asked.rendered) == ("text", "Quarterly *plan*", "")
    [answered] = answer["blocks"]
    assert "<strong>hire</strong>" in answered.rendered and "<script>" not in answered.rendered
    assert (answered.index, answered.streaming, answered.tail) == (0, False, None)


def test_a_member_continues_a_share_as_a_copy_of_the_snapshot_in_their_own_list(people, chat, share):
    copy = sharing.share_continue(user=people["member"], share=share)
    assert copy.owner == people["member"] and copy.pk != chat.pk
    copied = Message.objects.filter(conversation=copy).order_by("created_at", "pk")
    payloads = copied.values_list("blocks__payload", flat=True)
    assert [payload["text"] for payload in payloads] == ["Quarterly *plan*", ANSWER]
