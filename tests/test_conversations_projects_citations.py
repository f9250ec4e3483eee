"""Citations of a project's knowledge files: the quoted passage and the file's name, linked to the
file's own view (its project's members only) at the cited page of a PDF; any other path stays text."""

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations import rendering
from conversations.claude import citations
from conversations.models import Message, ProjectFile
from conversations.projects import services as projects
from conversations.sending import SendCommand, conversation_post
from fakes import Cited, GroundedReply
from tests.helpers import pdf_bytes, run_to_end

FAQ = "# FAQ\n\nWe ship on Fridays.\n"


@pytest.fixture
def project(team, people, media):
    made = projects.project_create(user=people["editor"], name="Handbook", instructions="Cite.", team=team)
    projects.project_file_add(user=people["editor"], project=made, name="handbook.pdf", data=pdf_bytes(3))
    projects.project_file_add(user=people["editor"], project=made, name="faq.md", data=FAQ.encode())
    return made


@pytest.mark.django_db(transaction=True)
async def test_a_cited_knowledge_file_is_named_quoted_and_linked(fake_api, project, people, client):
    page = {
        "type": "page_location",
        "cited_text": "Page two says so",
        "document_index": 0,
        "document_title": "handbook.pdf",
        "start_page_number": 2,
        "end_page_number": 3,
    }
    chars = {
        "type": "char_location",
        "cited_text": "We ship on Fridays.",
        "document_index": 1,
        "document_title": "faq.md",
        "start_char_index": 7,
        "end_char_index": 26,
    }
    fake_api.enqueue(GroundedReply([Cited("Fridays.", [page, chars])]))
    command = SendCommand("When do we ship?", model="claude-sonnet-4-6", project_id=project.pk)
    sent = await sync_to_async(conversation_post)(user=people["member"], command=command)
    await run_to_end(sent.reply)

    pdf, faq = await sync_to_async(list)(ProjectFile.objects.order_by("pk"))
    reply = await Message.objects.aget(pk=sent.reply.pk)
    html = await sync_to_async(rendering.message_html)(reply)
    pdf_url = reverse("project_file", args=[project.pk, pdf.pk])
    faq_url = reverse("project_file", args=[project.pk, faq.pk])
    assert f'href="{pdf_url}#page=2" target="_blank" rel="noopener">handbook.pdf, page 2</a>' in html
    assert "<q>Page two says so</q>" in html
    assert f'href="{faq_url}" target="_blank" rel="noopener">faq.md</a>: <q>We ship on Fridays.</q>' in html

    await sync_to_async(client.force_login)(people["member"])
    assert (await sync_to_async(client.get)(pdf_url)).status_code == 200
    await sync_to_async(client.force_login)(people["outsider"])
    assert (await sync_to_async(client.get)(pdf_url)).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/c/1/",  # another view of the app
        "/projects/1/",
        "/projects/1/files/2/?next=x",
        "/projects/1/files/2/#page=x",
        "//evil.example/projects/1/files/2/",
        "javascript:alert(1)",
        "/projects/1/files/2/\n",
    ],
)
def test_only_a_knowledge_files_own_view_is_linked(path):
    assert citations.project_file_url(path) is None
    sources = citations.Sources(documents=[path])
    html = citations.marks({"citations": [{"type": "page_location", "document_index": 0}]}, sources)
    assert "href" not in html


def test_a_knowledge_files_view_is_linked_with_its_page():
    assert citations.project_file_url(None) is None
    assert citations.project_file_url("/projects/1/files/2/") == "/projects/1/files/2/"
    assert citations.project_file_url("/projects/1/files/2/#page=4") == "/projects/1/files/2/#page=4"
