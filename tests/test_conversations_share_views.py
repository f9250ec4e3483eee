"""Sharing with a team and exporting, through their URLs: the permission matrix of every new URL
(owner, team member, another user outside the team, anonymous), the read-only snapshot, Continue
in my chats, revoking, deleting, and what staff review sees of shares."""

import io
import json
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conversations import services
from conversations.library import organising, sharing
from conversations.models import ContentBlock, Conversation, Message, ProducedFile, Share
from fakes import Cited, Code, GroundedReply, Output, Search
from fakes import server_tools as fake_tools
from review.models import TranscriptView
from teams import services as team_services
from tests.helpers import add_blocks, as_user, finish

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_catalog")]

MODEL = "claude-sonnet-4-6"
LOGIN = "/accounts/login/"


@pytest.fixture
def chat(fake_api, people, team) -> Conversation:
    conversation, reply = services.conversation_start(
        user=people["owner"], text="Quarterly plan", model=MODEL
    )
    text = "Step one: **hire**. <script>alert(1)</script>"
    ContentBlock.objects.create(message=reply, index=0, type="text", payload={"type": "text", "text": text})
    Message.objects.filter(pk=reply.pk).update(status="complete", output_tokens=9)
    return conversation


@pytest.fixture
def share(chat, team) -> Share:
    return sharing.share_create(conversation=chat, team=team)


@pytest.fixture
def other_team(people):
    return team_services.team_create(user=people["outsider"], name="Legal")


def call(client, people, who: str, method: str, url: str, data=None):
    client.logout()
    return getattr(as_user(client, people, who), method)(url, data or {})


def outcome(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith(LOGIN):
        return "login"
    return response.status_code


def test_the_permission_matrix_of_every_new_url(client, people, team, chat, share, other_team) -> None:
    rows = [
        ("get", reverse("export_json", args=[chat.pk]), None, (200, 404, 404, "login")),
        ("get", reverse("export_markdown", args=[chat.pk]), None, (200, 404, 404, "login")),
        ("get", reverse("export_all"), None, (200, 200, 200, "login")),
        ("get", reverse("import_conversation"), None, (200, 200, 200, "login")),
        ("get", reverse("shared_with_me"), None, (200, 200, 200, "login")),
        ("get", reverse("shared_conversation", args=[share.pk]), None, (200, 200, 404, "login")),
        ("post", reverse("share_continue", args=[share.pk]), None, (302, 302, 404, "login")),
        ("post", reverse("share_conversation", args=[chat.pk]), {"team": team.pk}, (302, 404, 404, "login")),
        # A team the owner is not in, or no team at all: 404 as well.
        (
            "post",
            reverse("share_conversation", args=[chat.pk]),
            {"team": other_team.pk},
            (404, 404, 404, "login"),
        ),
        ("post", reverse("share_conversation", args=[chat.pk]), {"team": "1" * 30}, (404, 404, 404, "login")),
    ]
    for method, url, data, expected in rows:
        got = tuple(outcome(call(client, people, who, method, url, data)) for who in people_order())
        assert got == expected, (method, url, data)

    live = Share.objects.get(revoked_at__isnull=True)  # sharing again replaced the first snapshot
    revoke = reverse("share_revoke", args=[live.pk])
    for who, expected in [("member", 404), ("outsider", 404), ("anonymous", "login"), ("owner", 302)]:
        assert outcome(call(client, people, who, "post", revoke)) == expected
    for who in ("owner", "member"):  # revoked: gone for everyone
        assert (
            call(client, people, who, "get", reverse("shared_conversation", args=[live.pk])).status_code
            == 404
        )
    # Wrong methods.
    assert call(client, people, "owner", "get", revoke).status_code == 405
    assert call(client, people, "owner", "post", reverse("export_all")).status_code == 405


def people_order() -> list[str]:
    return ["owner", "member", "outsider", "anonymous"]


def test_members_read_the_snapshot_taken_at_share_time(client, people, chat, share) -> None:
    services.message_send(conversation=chat, text="Later, private: salaries")
    page = call(client, people, "member", "get", reverse("shared_conversation", args=[share.pk]))
    html = page.content.decode()
    assert "Quarterly plan" in html and "<strong>hire</strong>" in html
    assert "<script>alert(1)</script>" not in html  # sanitized markdown
    assert "salaries" not in html
    assert "Continue in my chats" in html and "Revoke" not in html
    listing = call(client, people, "member", "get", reverse("shared_with_me")).content.decode()
    assert reverse("shared_conversation", args=[share.pk]) in listing
    assert (
        "Quarterly plan"
        not in call(client, people, "outsider", "get", reverse("shared_with_me")).content.decode()
    )


def test_continue_in_my_chats_copies_it_into_the_members_list(client, people, chat, share) -> None:
    response = call(client, people, "member", "post", reverse("share_continue", args=[share.pk]))
    copy = Conversation.objects.get(owner=people["member"])
    assert response["Location"] == reverse("conversation", args=[copy.pk])
    assert copy.title == "Quarterly plan"
    assert [m.role for m in copy.messages.order_by("id")] == ["user", "assistant"]
    assert all(m.copied_at for m in copy.messages.all())
    assert chat.messages.count() == 2 and not chat.messages.filter(copied_at__isnull=False).exists()


def test_a_deleted_conversation_takes_its_shares_away(client, people, chat, share) -> None:
    organising.conversation_trash(conversation=chat)
    url = reverse("shared_conversation", args=[share.pk])
    assert call(client, people, "member", "get", url).status_code == 404
    organising.conversation_restore(conversation=chat)
    assert call(client, people, "member", "get", url).status_code == 200
    organising.conversation_trash(conversation=chat)
    Conversation.objects.filter(pk=chat.pk).update(deleted_at=chat.deleted_at.replace(year=2000))
    organising.deleted_conversations_purge()
    share.refresh_from_db()
    assert share.conversation_id is None and share.revoked_at and share.snapshot == {}
    assert share.title == "Quarterly plan"  # the audit trail keeps what was shared


def test_the_owners_menu_offers_their_teams_and_lists_live_shares(client, people, chat, share) -> None:
    html = call(client, people, "owner", "get", reverse("conversation", args=[chat.pk])).content.decode()
    assert f'<option value="{share.team.pk}">Support</option>' in html
    assert reverse("share_revoke", args=[share.pk]) in html
    assert reverse("export_markdown", args=[chat.pk]) in html


def test_staff_review_sees_shares(client, people, chat, share) -> None:
    staff = get_user_model().objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    client.force_login(staff)
    listing = client.get(reverse("review_list"), {"shared": "1"}).content.decode()
    assert "Quarterly plan" in listing and "<td>Support</td>" in listing
    sharing.share_revoke(share=share)
    assert "Quarterly plan" not in client.get(reverse("review_list"), {"shared": "1"}).content.decode()
    transcript = client.post(
        reverse("review_transcript", args=[chat.pk]), {"reason": "audit"}
    ).content.decode()
    assert "Support: shared by owner on" in transcript and "revoked" in transcript
    assert TranscriptView.objects.filter(conversation=chat).count() == 1


def test_exports_download_as_files(client, people, chat) -> None:
    client.force_login(people["owner"])
    response = client.get(reverse("export_json", args=[chat.pk]))
    assert response["Content-Disposition"] == f'attachment; filename="quarterly-plan-{chat.pk}.json"'
    assert json.loads(response.content)["messages"][1]["blocks"][0]["text"].startswith("Step one")
    markdown = client.get(reverse("export_markdown", args=[chat.pk]))
    assert markdown["Content-Type"] == "text/markdown; charset=utf-8"
    assert markdown.content.decode().startswith("# Quarterly plan\n")
    everything = client.get(reverse("export_all"))
    assert everything["Content-Disposition"].startswith('attachment; filename="chat-data-owner-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(everything.streaming_content)))
    assert f"conversations/quarterly-plan-{chat.pk}.md" in archive.namelist()


def test_import_refuses_with_the_reason_inline_and_creates_on_success(client, people, chat) -> None:
    client.force_login(people["owner"])
    url = reverse("import_conversation")
    refused = client.post(url, {"file": io.BytesIO(b'{"hello": 1}')})
    assert refused.status_code == 422
    assert "not a conversation exported from this app" in refused.content.decode()
    assert 'role="alert"' in refused.content.decode()
    empty = client.post(url, {})
    assert empty.status_code == 422 and "Choose a JSON file" in empty.content.decode()
    exported = client.get(reverse("export_json", args=[chat.pk])).content
    upload = io.BytesIO(exported)
    upload.name = "plan.json"
    response = client.post(url, {"file": upload})
    copy = Conversation.objects.exclude(pk=chat.pk).get(owner=people["owner"])
    assert response["Location"] == reverse("conversation", args=[copy.pk])


def test_a_member_who_leaves_the_team_loses_the_share(client, people, team, share) -> None:
    url = reverse("shared_conversation", args=[share.pk])
    assert call(client, people, "member", "get", url).status_code == 200
    team.memberships.filter(user=people["member"]).delete()
    assert call(client, people, "member", "get", url).status_code == 404
    assert (
        call(client, people, "member", "post", reverse("share_continue", args=[share.pk])).status_code == 404
    )


def test_the_snapshot_shows_searches_citations_and_code_as_the_owner_saw_them(client, people, team) -> None:
    """Server tool blocks read as on the owner's page: what was searched, the results as safe
    links, numbered citations with footnotes, and the code with its output; the files the code
    made are named, never linked (files are not shared)."""
    conversation, reply = services.conversation_start(user=people["owner"], text="News?", model=MODEL)
    good = fake_tools.search_result("https://news.example/storm", "Storm <b>warning</b>")
    evil = fake_tools.search_result("javascript:alert(1)", "Evil page")
    made = Output("made.txt", b"", file_id="file_made")
    grounded = GroundedReply(
        [
            Search("storm <today>", [good, evil]),
            Cited("Rain on Monday.", [fake_tools.web_citation(good, "Rain Monday")]),
            Code("make", "built", files=[made]),
        ]
    )
    finish(reply, *fake_tools.blocks(grounded))
    ProducedFile.objects.create(conversation=conversation, file_id="file_made", filename="made.txt")
    share = sharing.share_create(conversation=conversation, team=team)

    html = call(
        client, people, "member", "get", reverse("shared_conversation", args=[share.pk])
    ).content.decode()
    assert "Searching: <q>storm &lt;today&gt;</q>" in html
    assert "2 results" in html and "[web_search_tool_result]" not in html and "[server_tool_use]" not in html
    link = 'href="https://news.example/storm" target="_blank" rel="noopener noreferrer nofollow"'
    assert html.count(link) == 3  # the result, the marker and the footnote
    assert 'href="javascript' not in html and "Storm &lt;b&gt;warning&lt;/b&gt;" in html
    assert '<ol class="citations" aria-label="Sources">' in html and "“Rain Monday”" in html
    assert '<code class="language-bash">make</code>' in html and "built" in html
    assert '<span class="chip">made.txt</span>' in html
    assert reverse("produced_file", args=[conversation.pk, "file_made"]) not in html


def test_a_copy_keeps_the_code_and_its_output_but_not_the_files_it_made(client, people, team) -> None:
    """Continue in my chats copies server tool blocks as they are (the import format takes them),
    but for the files code made: they stay the original conversation's owner's, so the copy
    neither names nor links them, nor sends their ids to the API."""
    conversation, reply = services.conversation_start(user=people["owner"], text="Build", model=MODEL)
    blocks = fake_tools.blocks(
        GroundedReply([Code("make", files=[Output("made.txt", b"", file_id="file_made")])])
    )
    finish(reply, *blocks)
    ProducedFile.objects.create(conversation=conversation, file_id="file_made", filename="made.txt")
    original = reverse("produced_file", args=[conversation.pk, "file_made"])
    owners_page = call(client, people, "owner", "get", reverse("conversation", args=[conversation.pk]))
    assert f'href="{original}"' in owners_page.content.decode()

    share = sharing.share_create(conversation=conversation, team=team)
    call(client, people, "member", "post", reverse("share_continue", args=[share.pk]))
    copy = Conversation.objects.get(owner=people["member"])
    html = client.get(reverse("conversation", args=[copy.pk])).content.decode()
    assert '<code class="language-bash">make</code>' in html and "Finished" in html
    assert "made.txt" not in html and original not in html
    assert client.get(original).status_code == 404
    copied = ContentBlock.objects.filter(message__conversation=copy, index=1).get()
    assert blocks[1]["content"]["content"] == [{"type": "bash_code_execution_output", "file_id": "file_made"}]
    without_the_file = {**blocks[1], "content": {**blocks[1]["content"], "content": []}}
    assert copied.payload == without_the_file  # else as the API sent it: replayed in later turns


def test_the_snapshot_names_attached_files_by_kind(client, people, team) -> None:
    conversation, reply = services.conversation_start(user=people["owner"], text="Read these", model=MODEL)
    question = conversation.messages.get(role="user")
    files = [
        {"type": "document", "attachment_id": 1, "name": "q3 <report>.pdf", "pages": 3},
        {"type": "document", "attachment_id": 2, "name": "notes.txt"},
        {"type": "image", "attachment_id": 3, "name": "chart.png"},
    ]
    add_blocks(question, files, start=1)
    share = sharing.share_create(conversation=conversation, team=team)
    html = call(
        client, people, "member", "get", reverse("shared_conversation", args=[share.pk])
    ).content.decode()
    assert "PDF · q3 &lt;report&gt;.pdf (files are not shared)" in html
    assert "Text · notes.txt (files are not shared)" in html
    assert "Image · chart.png (files are not shared)" in html
    assert "/attachments/" not in html


def test_sharing_while_a_reply_streams_snapshots_the_finished_messages_only(client, people, team) -> None:
    conversation, first = services.conversation_start(user=people["owner"], text="First", model=MODEL)
    finish(first, {"type": "text", "text": "Finished answer."})
    _, running = services.message_send(conversation=conversation, text="Second")
    add_blocks(running, [{"type": "text", "text": "Half an ans"}])

    page = call(client, people, "owner", "get", reverse("conversation", args=[conversation.pk]))
    assert "a reply still being written is left out" in page.content.decode()
    call(
        client,
        people,
        "owner",
        "post",
        reverse("share_conversation", args=[conversation.pk]),
        {"team": team.pk},
    )

    share = Share.objects.get(conversation=conversation)
    assert [(m["role"], m["status"]) for m in share.snapshot["messages"]] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
    ]
    html = call(
        client, people, "member", "get", reverse("shared_conversation", args=[share.pk])
    ).content.decode()
    assert "Finished answer." in html and "Half an ans" not in html and "· streaming" not in html
