"""A project's life beyond its chats: a refused start stays in the project, its instructions stay
out of the Prompts page and the picker, and its owners delete it (its chats stay, out of it; its
files leave our storage and the Files API)."""

from pathlib import Path

import pytest
from django.urls import reverse

from conversations.models import Conversation, Message, ProjectFile, RemoteFileDeletion
from conversations.projects import services as projects
from conversations.reply import reply_request
from conversations.sending import SendCommand, conversation_post
from teams import services as team_services
from teams.models import SystemPrompt
from tests.helpers import pdf_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(team, people, media):
    made = projects.project_create(
        user=people["editor"], name="Handbook", instructions="Answer from the handbook.", team=team
    )
    projects.project_file_add(user=people["editor"], project=made, name="handbook.pdf", data=pdf_bytes(2))
    return made


def test_a_refused_start_renders_the_new_chat_page_still_in_the_project(client, project, people, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    client.force_login(people["member"])
    response = client.post(
        reverse("start_chat"), {"text": "far more than ten characters", "project": project.pk}
    )
    page = response.content.decode()
    assert response.status_code == 422
    assert f'<input type="hidden" name="project" value="{project.pk}">' in page
    assert "New chat in" in page and "far more than ten characters" in page
    client.force_login(people["outsider"])
    assert client.post(reverse("start_chat"), {"text": "x" * 20, "project": project.pk}).status_code == 404


def test_a_projects_instructions_are_not_on_the_prompts_page_nor_in_the_picker(client, project, people, team):
    team_services.prompt_create(
        user=people["owner"], name="Reviewer", text="Review.", team=team, cache_ttl="5m"
    )
    client.force_login(people["member"])
    for url in (reverse("prompt_list"), reverse("new_chat")):
        page = client.get(url).content.decode()
        assert "Reviewer" in page and "Project: Handbook" not in page, url
    # Not by a forged choice either; in the project, its instructions go with the chat.
    refused = client.post(reverse("start_chat"), {"text": "Hi", "prompt": project.instructions_id})
    assert refused.status_code == 422 and not Conversation.objects.exists()
    command = SendCommand("Hi", model="claude-sonnet-4-6", project_id=project.pk)
    chat = conversation_post(user=people["member"], command=command).conversation
    assert chat.prompt_version.prompt_id == project.instructions_id


def start_in(project, user) -> tuple[Conversation, Message]:
    sent = conversation_post(
        user=user, command=SendCommand("Hi", model="claude-sonnet-4-6", project_id=project.pk)
    )
    return sent.conversation, sent.reply


@pytest.mark.django_db(transaction=True)
def test_its_owners_delete_a_project_and_its_chats_stay_out_of_it(client, project, people, team):
    chat, reply = start_in(project, people["member"])
    pdf = project.files.get()
    ProjectFile.objects.filter(pk=pdf.pk).update(file_id="file_handbook")
    stored = Path(pdf.storage_key)
    url = reverse("project_delete", args=[project.pk])

    client.force_login(people["outsider"])
    assert client.post(url).status_code == 404
    for who in ("member", "editor"):
        client.force_login(people[who])
        assert client.post(url).status_code == 403, who
    client.force_login(people["owner"])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response["Location"] == reverse("project_list")

    assert not ProjectFile.objects.exists()
    assert list(RemoteFileDeletion.objects.values_list("file_id", flat=True)) == ["file_handbook"]
    from django.conf import settings

    assert not (Path(settings.MEDIA_ROOT) / stored).exists()
    chat.refresh_from_db()
    assert chat.project_id is None and chat.prompt_version.text == "Answer from the handbook."
    body = reply_request.request_for(Message.objects.get(pk=reply.pk), own_blocks=[]).body
    assert body["system"][0]["text"] == "Answer from the handbook."
    assert all(b["type"] == "text" for m in body["messages"] for b in m["content"])
    kept = SystemPrompt.objects.get(pk=chat.prompt_version.prompt_id)
    assert kept.name == f"Deleted project {project.pk}: Handbook"
    client.force_login(people["member"])
    assert client.get(reverse("conversation", args=[chat.pk])).status_code == 200
    assert "Deleted project" in client.get(reverse("prompt_list")).content.decode()

    again = projects.project_create(user=people["owner"], name="Handbook", instructions="Again.", team=team)
    projects.project_delete(project=again)  # no chat pins its instructions: they go too
    assert not SystemPrompt.objects.filter(pk=again.instructions_id).exists()


def test_a_personal_projects_person_deletes_it(client, people, media):
    mine = projects.project_create(user=people["member"], name="Mine", instructions="Hi.", team=None)
    client.force_login(people["owner"])
    assert client.post(reverse("project_delete", args=[mine.pk])).status_code == 404
    client.force_login(people["member"])
    page = client.get(reverse("project_detail", args=[mine.pk])).content.decode()
    assert "Delete project" in page
    assert client.post(reverse("project_delete", args=[mine.pk])).status_code == 302
    assert not type(mine).objects.exists()


def test_the_chat_page_says_when_a_knowledge_file_was_removed_since_the_last_reply(client, project, people):
    from conversations.projects.knowledge import file_url

    faq, _ = projects.project_file_add(user=people["editor"], project=project, name="faq.md", data=b"# FAQ")
    pdf = project.files.get(name="handbook.pdf")
    chat, reply = start_in(project, people["member"])
    Message.objects.filter(pk=reply.pk).update(
        status="complete", cited_documents=[file_url(pdf), file_url(faq)]
    )
    client.force_login(people["member"])
    page = reverse("conversation", args=[chat.pk])
    assert "knowledge-gone" not in client.get(page).content.decode()

    projects.project_file_delete(project=project, file_id=pdf.pk)
    html = client.get(page).content.decode()
    assert (
        f'1 knowledge file of <a href="{reverse("project_detail", args=[project.pk])}">Handbook</a>' in html
    )
    assert "was removed since the last reply; the next message goes without it." in html

    # The next reply went without it: no notice.
    Message.objects.create(
        conversation=chat, role="assistant", status="complete", cited_documents=[file_url(faq)]
    )
    assert "knowledge-gone" not in client.get(page).content.decode()

    projects.project_delete(project=project)
    assert "This chat's project was deleted; the next message goes without its knowledge files." in (
        client.get(page).content.decode()
    )
