"""Skills in a reply (conversations/claude/sandbox.py): the container's skills as the request sends
them (Anthropic's anywhere code execution is, a team's own in its chats), the file a skill makes
downloaded through the produced-files path, and a skill the API refuses shown with its reason."""

import zipfile
from io import BytesIO

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations import rendering
from conversations.claude import sandbox
from conversations.models import Conversation, ProducedFile, TeamSkill, TeamSkillVersion
from conversations.services import conversation_start
from fakes import Code, GroundedReply, Reply
from fakes.server_tools import docx_output
from tests.helpers import run_to_end, send

CODE_TOOL = {"type": "code_execution_20260521", "name": "code_execution"}


async def chat(user, skills, prompt_version=None, text="Write the memo as a Word file"):
    return await sync_to_async(conversation_start)(
        user=user,
        text=text,
        model="claude-sonnet-4-6",
        prompt_version=prompt_version,
        params={"skills": list(skills)},
    )


@pytest.mark.django_db(transaction=True)
async def test_an_anthropic_skill_brings_code_execution_and_its_file_downloads(fake_api, alice, client):
    memo = GroundedReply(
        [
            "Writing it.",
            Code("python make_memo.py", "saved memo.docx\n", files=[docx_output("memo.docx", ["Q3 memo"])]),
            "Here is memo.docx.",
        ]
    )
    fake_api.enqueue(memo, Reply("Done."))
    conversation, reply = await chat(alice, ["anthropic:docx"])
    reply = await run_to_end(reply)
    assert reply.status == "complete", reply.error
    request = fake_api.message_requests[-1]
    assert request.body["container"] == {
        "skills": [{"type": "anthropic", "skill_id": "docx", "version": "latest"}]
    }
    assert CODE_TOOL in request.body["tools"]  # the skills run in its container, switched on or not
    assert sandbox.SKILLS_BETA in request.headers["anthropic-beta"]

    row = await ProducedFile.objects.aget(conversation=conversation)
    assert (row.filename, row.mime_type) == (
        "memo.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    await sync_to_async(client.force_login)(alice)
    response = await sync_to_async(client.get)(reverse("produced_file", args=[conversation.pk, row.file_id]))
    assert response.status_code == 200
    assert "[Content_Types].xml" in zipfile.ZipFile(BytesIO(response.content)).namelist()

    conversation = await Conversation.objects.aget(pk=conversation.pk)
    await send(conversation, "Shorter")
    assert fake_api.message_requests[-1].body["container"] == {
        "id": memo.container,  # the same sandbox, with the same skills
        "skills": [{"type": "anthropic", "skill_id": "docx", "version": "latest"}],
    }


@pytest.mark.django_db(transaction=True)
async def test_a_team_skill_goes_in_its_teams_chats_only_and_a_refusal_shows_the_apis_reason(
    fake_api, people, team, prompt
):
    skill = await TeamSkill.objects.acreate(team=team, title="House style", skill_id="skill_01House")
    await TeamSkillVersion.objects.acreate(skill=skill, version="1759178010641129")
    version = await sync_to_async(lambda: prompt.latest)()

    _, reply = await chat(people["member"], ["custom:skill_01House", "anthropic:pdf"], prompt_version=version)
    reply = await run_to_end(reply)  # the fake's skills API never heard of it
    assert reply.status == "error"
    assert "skill_01House" in reply.error  # the API's own words, naming it
    body = fake_api.message_requests[-1].body
    assert body["container"]["skills"] == [
        {"type": "anthropic", "skill_id": "pdf", "version": "latest"},
        {"type": "custom", "skill_id": "skill_01House", "version": "1759178010641129"},
    ]
    html = await sync_to_async(rendering.message_html)(reply)
    assert "skill_01House" in html

    fake_api.enqueue(Reply("Fine."))
    _, reply = await chat(people["outsider"], ["custom:skill_01House"])  # a personal chat: not offered
    reply = await run_to_end(reply)
    assert "container" not in fake_api.message_requests[-1].body
