"""Projects (conversations/projects/): the request of a chat in a project (instructions, then the
knowledge as documents with a 1-hour breakpoint, byte-identical for every member and turn), the
second member's first question read from the cache, who may see and change what, and the caps."""

import pytest
from asgiref.sync import sync_to_async
from django.http import Http404
from django.urls import reverse

from conversations import attachments
from conversations.claude.pricing import seed_default_prices
from conversations.models import Message, ModelPrice, ProjectFile, RemoteFileDeletion
from conversations.projects import services as projects
from conversations.reply.anthropic_request import count_breakpoints
from conversations.sending import SendCommand, conversation_post
from fakes import Reply
from teams import services as team_services
from tests.helpers import pdf_bytes, run_to_end, send

HOUR = {"type": "ephemeral", "ttl": "1h"}
EPHEMERAL = {"type": "ephemeral"}
FAQ = "# FAQ\n" + "".join(f"Question {i}: the answer is {i * 7}.\n" for i in range(600))  # about 7,000 tokens


@pytest.fixture
def project(team, people, media):
    made = projects.project_create(
        user=people["editor"], name="Handbook", instructions="Answer from the handbook.", team=team
    )
    projects.project_file_add(user=people["editor"], project=made, name="handbook.pdf", data=pdf_bytes(2))
    projects.project_file_add(user=people["editor"], project=made, name="faq.md", data=FAQ.encode())
    return made


def start_in(project, user, text: str):
    command = SendCommand(text, model="claude-sonnet-4-6", project_id=project.pk)
    sent = conversation_post(user=user, command=command)
    return sent.conversation, sent.reply


@pytest.mark.django_db(transaction=True)
async def test_a_project_chat_sends_instructions_then_knowledge_cached_for_an_hour(fake_api, project, people):
    fake_api.enqueue(Reply("Friday."))
    conversation, reply = await sync_to_async(start_in)(project, people["member"], "When do we ship?")
    await run_to_end(reply)

    pdf, faq = await sync_to_async(list)(ProjectFile.objects.order_by("pk"))
    assert pdf.file_id  # uploaded once, on first use
    body = fake_api.message_requests[-1].body
    assert body["system"] == [{"type": "text", "text": "Answer from the handbook.", "cache_control": HOUR}]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {"type": "file", "file_id": pdf.file_id},
                    "title": "handbook.pdf",
                    "citations": {"enabled": True},
                },
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": FAQ},
                    "title": "faq.md",
                    "citations": {"enabled": True},
                    "cache_control": HOUR,
                },
                {"type": "text", "text": "When do we ship?", "cache_control": EPHEMERAL},
            ],
        }
    ]
    assert count_breakpoints(body) == 3
    assert conversation.prompt_version_id == (await sync_to_async(lambda: project.instructions.latest.pk)())
    stored = await Message.objects.aget(pk=reply.pk)
    # Written for an hour up to the knowledge's breakpoint; only the question for 5 minutes.
    assert 0 < stored.cache_creation_input_tokens - stored.cache_creation_1h_input_tokens < 20
    assert stored.cache_creation_1h_input_tokens > 5000

    # The next turn sends the same prefix, byte for byte.
    fake_api.enqueue(Reply("Yes."))
    await send(conversation, "Sure?")
    again = fake_api.message_requests[-1].body
    assert again["system"] == body["system"]
    assert again["messages"][0]["content"][:2] == body["messages"][0]["content"][:2]
    assert [f.path for f in fake_api.requests].count("/v1/files") == 1


@pytest.mark.django_db(transaction=True)
async def test_the_second_members_first_question_reads_the_prefix_from_the_cache(fake_api, project, people):
    await sync_to_async(seed_default_prices)(ModelPrice)
    fake_api.enqueue(Reply("Friday."), Reply("Monday."))
    _, first = await sync_to_async(start_in)(project, people["member"], "When do we ship?")
    await run_to_end(first)
    _, second = await sync_to_async(start_in)(project, people["owner"], "Who is on call?")
    second = await run_to_end(second)

    bodies = [r.body for r in fake_api.message_requests[-2:]]
    assert bodies[0]["system"] == bodies[1]["system"]
    assert bodies[0]["messages"][0]["content"][:2] == bodies[1]["messages"][0]["content"][:2]
    total = second.input_tokens + second.cache_read_input_tokens + second.cache_creation_input_tokens
    assert second.cache_read_input_tokens / total >= 0.8
    assert second.cache_savings > 0


@pytest.mark.django_db(transaction=True)
async def test_edited_instructions_are_a_new_version_and_old_chats_keep_theirs(fake_api, project, people):
    fake_api.enqueue(Reply("One."), Reply("Two."), Reply("Three."))
    old, reply = await sync_to_async(start_in)(project, people["member"], "Hi")
    await run_to_end(reply)
    version = await sync_to_async(projects.project_instructions_edit)(
        user=people["editor"], project=project, instructions="Answer from the handbook, briefly."
    )
    assert version.number == 2 and version.cache_ttl == "1h"

    await send(old, "Again")
    assert fake_api.message_requests[-1].body["system"][0]["text"] == "Answer from the handbook."
    new, reply = await sync_to_async(start_in)(project, people["member"], "Hi")
    await run_to_end(reply)
    assert fake_api.message_requests[-1].body["system"][0]["text"] == "Answer from the handbook, briefly."
    assert new.prompt_version_id == version.pk


@pytest.mark.django_db(transaction=True)
async def test_a_member_who_left_the_team_chats_on_without_the_knowledge(fake_api, project, people, team):
    fake_api.enqueue(Reply("One."), Reply("Two."))
    conversation, reply = await sync_to_async(start_in)(project, people["member"], "Hi")
    await run_to_end(reply)
    membership = await team.memberships.aget(user=people["member"])
    await sync_to_async(team_services.member_remove)(membership=membership)

    await send(conversation, "Still there?")
    body = fake_api.message_requests[-1].body
    assert all(b["type"] == "text" for m in body["messages"] for b in m["content"])


@pytest.mark.django_db(transaction=True)
async def test_a_removed_file_leaves_the_next_request_and_the_files_api(fake_api, project, people):
    fake_api.enqueue(Reply("One."), Reply("Two."))
    conversation, reply = await sync_to_async(start_in)(project, people["member"], "Hi")
    await run_to_end(reply)
    pdf = await ProjectFile.objects.filter(media_type="application/pdf").aget()
    assert await sync_to_async(projects.project_file_delete)(project=project, file_id=pdf.pk)
    assert await RemoteFileDeletion.objects.filter(file_id=pdf.file_id).aexists()

    await send(conversation, "And now?")
    content = fake_api.message_requests[-1].body["messages"][0]["content"]
    assert [b.get("title") for b in content[:1]] == ["faq.md"]
    assert content[0]["cache_control"] == HOUR


def test_a_project_without_knowledge_sends_its_instructions_alone(fake_api, team, people, media):
    bare = projects.project_create(user=people["owner"], name="Bare", instructions="Be brief.", team=team)
    _, reply = start_in(bare, people["member"], "Hi")
    from conversations.reply import reply_request

    body = reply_request.request_for(Message.objects.get(pk=reply.pk), own_blocks=[]).body
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": HOUR}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": EPHEMERAL}]}
    ]


# --- who may see and change what ---------------------------------------------------------------


def project_urls(project, file) -> list[tuple[str, str]]:
    return [
        ("get", reverse("project_detail", args=[project.pk])),
        ("get", reverse("project_instructions", args=[project.pk])),
        ("post", reverse("project_instructions", args=[project.pk])),
        ("post", reverse("project_files_add", args=[project.pk])),
        ("get", reverse("project_file", args=[project.pk, file.pk])),
        ("post", reverse("project_file_delete", args=[project.pk, file.pk])),
        ("get", reverse("new_chat") + f"?project={project.pk}"),
    ]


def test_someone_outside_the_team_gets_404_on_every_url(client, project, people):
    client.force_login(people["outsider"])
    for method, url in project_urls(project, project.files.first()):
        assert getattr(client, method)(url).status_code == 404, url
    assert "Handbook" not in client.get(reverse("project_list")).content.decode()
    with pytest.raises(Http404):
        start_in(project, people["outsider"], "Let me in")
    assert project.files.count() == 2


def test_members_read_and_chat_but_only_owners_and_editors_change(client, project, people):
    client.force_login(people["member"])
    file = project.files.first()
    page = client.get(reverse("project_detail", args=[project.pk])).content.decode()
    assert "handbook.pdf" in page and "faq.md" in page and "Add knowledge files" not in page
    assert client.get(reverse("project_file", args=[project.pk, file.pk])).status_code == 200
    assert client.get(reverse("new_chat") + f"?project={project.pk}").status_code == 200
    for method, url in project_urls(project, file)[1:4] + project_urls(project, file)[5:6]:
        assert getattr(client, method)(url).status_code == 403, url

    client.force_login(people["editor"])
    page = client.get(reverse("project_detail", args=[project.pk])).content.decode()
    assert "Add knowledge files" in page and "Edit instructions" in page


def test_a_personal_project_is_its_owners_alone(client, people, media):
    mine = projects.project_create(user=people["member"], name="Mine", instructions="Hi.", team=None)
    client.force_login(people["owner"])
    assert client.get(reverse("project_detail", args=[mine.pk])).status_code == 404
    client.force_login(people["member"])
    assert client.get(reverse("project_detail", args=[mine.pk])).status_code == 200


def test_new_project_page_makes_a_team_project(client, team, people):
    client.force_login(people["editor"])
    response = client.post(
        reverse("project_new"), {"name": "Onboarding", "instructions": "Welcome people.", "team": team.pk}
    )
    project = team.projects.get()
    assert response["Location"] == reverse("project_detail", args=[project.pk])
    assert project.instructions.latest.text == "Welcome people." and project.instructions.team == team
    client.force_login(people["member"])  # a member does not make the team's projects
    refused = client.post(reverse("project_new"), {"name": "Mine", "instructions": "x", "team": team.pk})
    assert refused.status_code == 404


# --- limits and bad input ------------------------------------------------------------------------


def test_uploads_are_checked_like_a_chats_and_capped(client, fake_api, project, people, settings):
    client.force_login(people["editor"])
    url = reverse("project_files_add", args=[project.pk])
    bad = client.post(url, {"files": [_upload("tool.exe", b"MZ\x90\x00 not a file the API reads")]})
    assert bad.status_code == 422 and "tool.exe: not a" in bad.content.decode()

    settings.CHAT_PROJECT_MAX_FILES = 3
    ok = client.post(url, {"files": [_upload("a.txt", b"alpha"), _upload("b.txt", b"beta")]})
    assert ok.status_code == 422 and "b.txt: a project holds at most 3 files." in ok.content.decode()
    assert sorted(project.files.values_list("name", flat=True)) == ["a.txt", "faq.md", "handbook.pdf"]
    assert project.files.get(name="a.txt").token_count > 0  # counted once, when added

    settings.CHAT_PROJECT_MAX_FILES = 50
    settings.CHAT_PROJECT_MAX_MB = 0
    full = client.post(url, {"files": [_upload("c.txt", b"gamma")]})
    assert full.status_code == 422 and "may take 0 MB in all; 0.0 MB are used." in full.content.decode()


def test_the_default_caps_are_at_least_50_files_and_50_mb():
    from django.conf import settings

    assert settings.CHAT_PROJECT_MAX_FILES >= 50 and settings.CHAT_PROJECT_MAX_MB >= 50
    assert attachments.MAX_PDF_BYTES <= settings.CHAT_PROJECT_MAX_MB * 2**20


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)
