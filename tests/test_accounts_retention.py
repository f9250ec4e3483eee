"""Retention: `manage.py purge` scrubs conversations past the policy (instance, or a stricter
team's), with their files, and keeps the usage rows and the audit trail."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts import lifecycle, retention
from accounts.models import TeamRetention
from conversations.library import sharing
from conversations.models import ApiCall, Attachment, ContentBlock, Conversation, Message
from conversations.spending import spent, totals
from review.models import TranscriptView
from teams import services as team_services
from tests.helpers import chat_with_usage, image_bytes
from usage.selectors import by_team, by_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(alice, bob, staff, team, prompt, media, settings):
    settings.CHAT_RETENTION_DAYS = 30
    TeamRetention.objects.create(team=team, days=7)
    shared_image = image_bytes(10, 10)
    old = chat_with_usage(alice, "An old plan about the merger", days_old=40, image=shared_image)
    TranscriptView.objects.create(
        staff=staff, conversation=old, conversation_title=old.title, conversation_owner=alice, reason="audit"
    )
    return {
        "old": old,
        # The recent chat shares the old one's file.
        "recent": chat_with_usage(alice, "A recent question", days_old=3, image=shared_image),
        "old_only_file": chat_with_usage(bob, "Bob's old drawing", days_old=31, image=image_bytes(12, 12)),
        "team_old": chat_with_usage(alice, "Team chat", days_old=8, prompt=prompt),
        "team_recent": chat_with_usage(alice, "Team chat, fresh", days_old=2, prompt=prompt),
    }


def test_dry_run_reports_and_changes_nothing(history):
    out = StringIO()
    call_command("purge", "--dry-run", stdout=out)
    assert "Would purge 3 conversation(s), 6 message(s)" in out.getvalue()
    assert Conversation.objects.visible().count() == 5 and ContentBlock.objects.count() == 13


def test_purge_scrubs_what_is_past_the_policy_and_keeps_usage_and_the_audit_trail(
    history, media, django_capture_on_commit_callbacks
):
    everyone = spent()
    before = totals(everyone), by_user(everyone), by_team(everyone)
    files_before = {p.name for p in media.rglob("*") if p.is_file()}
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # files are removed once committed
        call_command("purge", "--batch", "2", stdout=out)
    assert "Purged 3 conversation(s), 6 message(s), 1 file(s)" in out.getvalue()
    gone = [history[name].pk for name in ("old", "old_only_file", "team_old")]
    kept = [history[name].pk for name in ("recent", "team_recent")]
    assert set(Conversation.objects.visible().values_list("pk", flat=True)) == set(kept)
    assert not ContentBlock.objects.filter(message__conversation_id__in=gone).exists()
    assert not Message.objects.filter(conversation_id__in=gone, role="user").exists()
    scrubbed = Conversation.objects.filter(pk__in=gone)
    assert set(scrubbed.values_list("title", flat=True)) == {""} and all(c.params == {} for c in scrubbed)
    assert set(Message.objects.filter(conversation_id__in=gone).values_list("error", flat=True)) == {""}
    assert ContentBlock.objects.filter(message__conversation_id__in=kept).count() == 5
    # The usage rows, and so every total, stay as they were.
    assert (totals(everyone), by_user(everyone), by_team(everyone)) == before
    assert ApiCall.objects.filter(conversation_id__in=gone).count() == 3  # the titles' rows too
    # Bob's drawing is gone from disk; the image the recent chat also uses stays.
    assert Attachment.objects.count() == 1
    files_after = {p.name for p in media.rglob("*") if p.is_file()}
    assert len(files_before - files_after) == 1 and len(files_after) == 1
    view = TranscriptView.objects.get()
    assert (
        view.conversation_id == history["old"].pk
        and view.conversation_title == "An old plan about the merger"
    )


def test_shares_of_a_purged_conversation_are_revoked_without_their_snapshot(history, team, alice):
    team_services.member_add(team=team, identifier="alice", role="member")
    share = sharing.share_create(conversation=history["old"], team=team)
    kept = sharing.share_create(conversation=history["recent"], team=team)
    retention.purge()
    share.refresh_from_db()
    kept.refresh_from_db()
    assert share.snapshot == {} and share.revoked_at is not None and share.title  # the audit trail
    assert kept.snapshot and kept.revoked_at is None


def test_the_remote_data_hook_sees_the_files_about_to_go(history, monkeypatch):
    seen = []
    monkeypatch.setattr(lifecycle, "remote_data_delete", lambda rows: seen.extend(r.name for r in rows))
    retention.purge()
    assert seen == ["a.png"]


def test_a_team_policy_longer_than_the_instance_changes_nothing(history, settings, team):
    TeamRetention.objects.filter(team=team).update(days=90)
    assert set(retention.expired().values_list("pk", flat=True)) == {
        history["old"].pk,
        history["old_only_file"].pk,
    }


def test_without_an_instance_policy_only_team_policies_apply(history, settings):
    settings.CHAT_RETENTION_DAYS = 0
    assert list(retention.expired()) == [history["team_old"]]
    TeamRetention.objects.all().delete()
    assert retention.purge().conversations == 0


def test_a_conversation_with_a_reply_streaming_waits(history):
    old = history["old"]
    assert old in retention.expired()
    reply = Message.objects.create(conversation=old, role="assistant", status="streaming", model="m")
    assert old not in retention.expired()
    Message.objects.filter(pk=reply.pk).update(status="complete")
    assert old in retention.expired()  # once the reply has ended
