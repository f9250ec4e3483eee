"""Deleting one's own account: proven by the password (or a fresh provider sign-in), it scrubs the
conversations and files, removes prompts and memberships, and keeps anonymised usage rows."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts import account_views
from accounts.models import Identity
from conversations.models import (
    Attachment,
    ContentBlock,
    Conversation,
    ProducedFile,
    Project,
    ProjectFile,
    RemoteFileDeletion,
)
from conversations.projects import services as projects
from conversations.spending import spent, totals
from memory.models import MemoryFile, MemorySetting
from teams import services as team_services
from teams.models import Membership, SystemPrompt
from tests.helpers import chat_with_usage, image_bytes
from usage.selectors import by_team, by_user

User = get_user_model()
pytestmark = pytest.mark.django_db


@pytest.fixture
def member_chats(people, team, prompt, media):
    member = people["member"]
    team_services.prompt_create(user=member, name="Mine", text="Be brief.", team=None, cache_ttl="5m")
    team_chat = chat_with_usage(member, "Team question", days_old=1, prompt=prompt, image=image_bytes(9, 9))
    return member, [team_chat, chat_with_usage(member, "Private question", days_old=2)]


def test_the_account_page_offers_deletion_and_the_export_only_when_it_exists(client, alice, monkeypatch):
    client.force_login(alice)
    page = client.get(reverse("account")).content.decode()
    assert "Delete my account" in page
    assert f'href="{reverse("export_all")}"' in page and "Download all your data first" in page
    monkeypatch.setattr(account_views, "export_url", lambda: None)  # a build without the export
    assert "Download all your data first" not in client.get(reverse("account")).content.decode()


def test_a_wrong_password_deletes_nothing(client, member_chats):
    member, chats = member_chats
    client.force_login(member)
    response = client.post(reverse("account_delete"), {"password": "wrong"})
    assert response.status_code == 422 and "not right" in response.content.decode()
    member.refresh_from_db()
    assert member.is_active and Conversation.objects.visible().filter(owner=member).count() == 2


def test_deleting_removes_the_data_and_keeps_anonymised_usage(
    client, member_chats, team, media, django_capture_on_commit_callbacks
):
    member, chats = member_chats
    MemoryFile.objects.create(owner=member, path="/memories/me.md", content="Likes tea.")
    made = ProducedFile.objects.create(conversation=chats[0], file_id="file_made", filename="chart.png")
    Conversation.objects.filter(pk=chats[0].pk).update(container_id="container_1")
    MemorySetting.objects.create(user=member, enabled=True)
    everyone = spent()
    before = totals(everyone), by_team(everyone)
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_delete"), {"password": "member-pass-123"})
    assert response.status_code == 200 and "Your account was deleted" in response.content.decode()
    member.refresh_from_db()
    assert (member.username, member.email, member.is_active) == (f"deleted-{member.pk}", "", False)
    assert not member.has_usable_password()
    assert not Conversation.objects.visible().filter(owner=member).exists()
    assert not ContentBlock.objects.filter(message__conversation__owner=member).exists()
    assert not Attachment.objects.filter(owner=member).exists() and not any(
        p.is_file() for p in media.rglob("*")
    )
    assert not SystemPrompt.objects.filter(owner=member).exists()
    assert not Membership.objects.filter(user=member).exists()
    assert not MemoryFile.objects.filter(owner=member).exists()
    assert not MemorySetting.objects.filter(user=member).exists()
    assert not ProducedFile.objects.filter(pk=made.pk).exists()  # and its copy in the Files API:
    assert RemoteFileDeletion.objects.filter(file_id="file_made").exists()
    assert not Conversation.objects.filter(owner=member, container_id__isnull=False).exists()
    assert (totals(everyone), by_team(everyone)) == before  # the team's totals stay right, titles too
    assert f"deleted-{member.pk}" in {row["label"] for row in by_user(everyone)}
    assert not client.get(reverse("new_chat")).wsgi_request.user.is_authenticated


def test_the_only_owner_of_a_team_with_members_must_hand_it_over_first(client, people, team):
    client.force_login(people["owner"])
    response = client.post(reverse("account_delete"), {"password": "owner-pass-123"})
    assert (
        response.status_code == 422
        and "Make someone else an owner of Support first." in response.content.decode()
    )
    assert User.objects.get(pk=people["owner"].pk).is_active


def test_a_single_sign_on_account_confirms_with_a_fresh_sign_in(client, settings, alice):
    settings.CHAT_OIDC_ISSUER, settings.CHAT_OIDC_CLIENT_ID = "http://127.0.0.1:9/o", "chat"
    alice.set_unusable_password()
    alice.save()
    Identity.objects.create(user=alice, issuer="http://127.0.0.1:9/o", subject="1")
    client.force_login(alice)
    page = client.get(reverse("account")).content.decode()
    assert "?reauth=1" in page and "Delete my account" not in page
    assert client.post(reverse("account_delete")).status_code == 422
    session = client.session
    session["reauth_at"] = time.time() - 301
    session.save()
    assert client.post(reverse("account_delete")).status_code == 422  # too long ago
    session["reauth_at"] = time.time()
    session.save()
    assert client.post(reverse("account_delete")).status_code == 200
    alice.refresh_from_db()
    assert not alice.is_active


def test_deleting_an_account_deletes_its_personal_projects_and_their_files(
    client, alice, media, django_capture_on_commit_callbacks
):
    """A personal project's instructions are the person's prompt: deleting the account deleted the
    prompt under its project (refused: the project protects it) before projects were covered."""
    project = projects.project_create(user=alice, name="Notes", instructions="Be brief.", team=None)
    known, _ = projects.project_file_add(user=alice, project=project, name="facts.txt", data=b"Facts.\n")
    ProjectFile.objects.filter(pk=known.pk).update(file_id="file_known")
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_delete"), {"password": "alice-pass-123"})
    assert response.status_code == 200
    assert not Project.objects.filter(pk=project.pk).exists() and not ProjectFile.objects.exists()
    assert RemoteFileDeletion.objects.filter(file_id="file_known").exists()
    assert not SystemPrompt.objects.filter(owner=alice).exists()
    assert not any(p.is_file() for p in media.rglob("*"))
