"""Code execution (conversations/claude/sandbox.py) end to end against the fake Messages API and
its Files API: the exact tool a request offers and when, the blocks replayed verbatim, the
container reused, the files the code made (named, downloaded behind the ownership check, deleted
with their conversation), and how a result reads on the page."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from django.utils import timezone

from conversations import rendering, services
from conversations.claude import attachment_files, params, sandbox, tools, web
from conversations.claude.capabilities import capabilities
from conversations.models import ContentBlock, Conversation, ProducedFile, RemoteFileDeletion
from conversations.reply import generation
from fakes import Code, EditFile, GroundedReply, Output, Reply
from fakes import server_tools as fake_tools
from tests.helpers import (
    add_blocks,
    connect,
    frames_until_end,
    image_bytes,
    open_transcript,
    payloads,
    run_to_end,
    send,
    start_chat,
)

TOOL = {"type": "code_execution_20260521", "name": "code_execution"}
CHART = image_bytes(32, 24)


def code_on(conversation: Conversation, **extra) -> None:
    services.conversation_configure(
        conversation=conversation, model=conversation.model, params={"code": True, **extra}
    )


async def chat_with_code(user, text="Plot it", **extra):
    conversation, reply = await start_chat(user, text, "claude-sonnet-4-6")
    await sync_to_async(code_on)(conversation, **extra)
    return conversation, reply


def analysis() -> GroundedReply:
    return GroundedReply(
        [
            "I'll compute it.",
            EditFile("/tmp/stats.py", "import statistics\nprint(statistics.mean([1, 2, 3]))\n"),
            Code(
                "python /tmp/stats.py && python plot.py",
                "2.0\n<script>alert(1)</script>\n",
                stderr="UserWarning: no display",
                files=[
                    Output("chart.png", CHART, "image/png"),
                    Output("report.html", b"<h1>x</h1>", "text/html"),
                ],
            ),
            "The mean is 2.",
        ]
    )


# --- the tool offered ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_request_offers_the_tool_exactly_after_the_client_and_web_tools(fake_api, alice):
    conversation, reply = await chat_with_code(alice, web=True)
    await run_to_end(reply)
    offered = fake_api.message_requests[-1].body["tools"]
    assert offered == [*tools.schemas(), *web.tool_definitions(), TOOL]
    assert "container" not in fake_api.message_requests[-1].body  # none yet


@pytest.mark.django_db(transaction=True)
async def test_off_by_default_and_off_when_the_instance_says_so(fake_api, alice, settings):
    conversation, reply = await start_chat(alice, "Hi", "claude-sonnet-4-6")
    await run_to_end(reply)
    assert TOOL not in fake_api.message_requests[-1].body.get("tools", [])

    await sync_to_async(code_on)(conversation)
    settings.CHAT_CODE_EXECUTION = False
    await send(conversation, "Again")
    assert TOOL not in fake_api.message_requests[-1].body.get("tools", [])


def test_offered_only_where_the_capability_table_allows(settings, alice):
    local = settings.CHAT_LOCAL_MODEL_NAME
    for model, expected in [("claude-sonnet-4-6", True), ("claude-3-5-haiku", False), (local, False)]:
        conversation = Conversation(owner=alice, model=model)
        assert sandbox.offered(conversation, capabilities(model)) is expected, model


@pytest.mark.django_db
def test_the_composer_offers_it_and_a_model_without_it_refuses_it(client, alice, fake_api):
    """Turning it on with a send: tests/test_conversations_switches.py."""
    conversation = Conversation.objects.create(owner=alice, model="claude-sonnet-4-6")
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert '<input type="checkbox" name="code">' in page
    _, errors = params.parse({"code": True}, capabilities("claude-3-5-haiku"))
    assert errors == ["This model does not offer code execution."]


# --- streaming, storing, replaying ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_blocks_are_replayed_verbatim_and_the_container_is_reused(fake_api, alice):
    grounded = analysis()
    fake_api.enqueue(grounded)
    conversation, reply = await chat_with_code(alice)
    reply = await run_to_end(reply)
    sent = fake_tools.blocks(grounded)

    assert reply.status == "complete"
    assert await payloads(reply) == sent
    conversation = await Conversation.objects.aget(pk=conversation.pk)
    assert conversation.container_id == grounded.container and grounded.container.startswith("container_")

    await send(conversation, "And the median?")
    body = fake_api.message_requests[-1].body
    assert body["container"] == grounded.container
    replayed = body["messages"][1]
    assert json.dumps(replayed, sort_keys=True) == json.dumps(
        {"role": "assistant", "content": sent}, sort_keys=True
    )
    assert replayed["content"][4]["content"]["content"][0]["file_id"] == grounded.parts[2].files[0].file_id


@pytest.mark.django_db(transaction=True)
async def test_a_paused_turn_goes_on_in_the_same_container(fake_api, alice):
    first = GroundedReply([Code("sleep 100", "", stderr="")], stop_reason="pause_turn")
    fake_api.enqueue(first, Reply("Done."))
    _, reply = await chat_with_code(alice)
    reply = await run_to_end(reply)

    assert reply.status == "complete"
    assert fake_api.message_requests[-1].body["container"] == first.container


@pytest.mark.django_db(transaction=True)
async def test_an_expired_container_is_not_sent(fake_api, alice):
    conversation, reply = await chat_with_code(alice)
    await run_to_end(reply)
    await Conversation.objects.filter(pk=conversation.pk).aupdate(
        container_id="container_old", container_expires_at=timezone.now() + timedelta(seconds=30)
    )
    await send(conversation, "Again")
    assert "container" not in fake_api.message_requests[-1].body


@pytest.mark.django_db(transaction=True)
async def test_an_execution_error_is_stored_and_shown(fake_api, alice):
    fake_api.enqueue(GroundedReply([Code("yes", error_code="execution_time_exceeded"), "It ran too long."]))
    _, reply = await chat_with_code(alice)
    reply = await run_to_end(reply)
    stored = await sync_to_async(list)(ContentBlock.objects.filter(message=reply).order_by("index"))
    assert stored[1].payload["content"] == {
        "type": "bash_code_execution_tool_result_error",
        "error_code": "execution_time_exceeded",
    }
    html = await sync_to_async(rendering.block_html)(stored[1])
    assert "Code execution failed (execution_time_exceeded)." in html


# --- the files the code made ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_each_file_is_named_from_the_files_api(fake_api, alice):
    grounded = analysis()
    fake_api.enqueue(grounded)
    conversation, reply = await chat_with_code(alice)
    await run_to_end(reply)
    chart, report = grounded.parts[2].files
    rows = await sync_to_async(list)(ProducedFile.objects.filter(conversation=conversation).order_by("pk"))
    assert [(r.file_id, r.filename, r.mime_type, r.size_bytes) for r in rows] == [
        (chart.file_id, "chart.png", "image/png", len(CHART)),
        (report.file_id, "report.html", "text/html", len(b"<h1>x</h1>")),
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_file_whose_metadata_cannot_be_read_is_named_by_its_id(fake_api, alice, caplog):
    grounded = GroundedReply([Code("make", files=[Output("out.csv", b"a,b\n", "text/csv")])])
    fake_api.enqueue(grounded)
    conversation, reply = await chat_with_code(alice)
    original = fake_api.files.add_produced

    def add_then_forget(file_id, *args):  # the API no longer has it when the app asks
        original(file_id, *args)
        del fake_api.files.stored[file_id]

    fake_api.files.add_produced = add_then_forget
    try:
        reply = await run_to_end(reply)
    finally:
        fake_api.files.add_produced = original
    file_id = grounded.parts[0].files[0].file_id
    row = await ProducedFile.objects.aget(conversation=conversation)
    assert reply.status == "complete" and (row.file_id, row.filename) == (file_id, file_id)
    assert "metadata failed" in caplog.text


def produced(alice, fake_api, name="chart.png", mime_type="image/png", data=CHART) -> ProducedFile:
    conversation = Conversation.objects.create(owner=alice, model="claude-sonnet-4-6")
    file_id = "file_" + name.replace(".", "")
    fake_api.files.add_produced(file_id, name, mime_type, data)
    return ProducedFile.objects.create(
        conversation=conversation, file_id=file_id, filename=name, mime_type=mime_type, size_bytes=len(data)
    )


@pytest.mark.django_db
def test_the_owner_downloads_an_image_inline_and_anything_else_as_a_download(client, alice, fake_api):
    chart = produced(alice, fake_api)
    page = produced(alice, fake_api, "report.html", "text/html", b"<script>alert(1)</script>")
    client.force_login(alice)

    response = client.get(reverse("produced_file", args=[chart.conversation_id, chart.file_id]))
    assert response.status_code == 200 and response.content == CHART
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="chart.png"'

    response = client.get(reverse("produced_file", args=[page.conversation_id, page.file_id]))
    assert response.status_code == 200 and response.content == b"<script>alert(1)</script>"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="report.html"'


@pytest.mark.django_db
def test_nobody_else_downloads_it(client, alice, bob, staff, fake_api):
    chart = produced(alice, fake_api)
    url = reverse("produced_file", args=[chart.conversation_id, chart.file_id])
    for who in (bob, staff):
        client.force_login(who)
        assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
    other = Conversation.objects.create(owner=alice, model="claude-sonnet-4-6")
    client.force_login(alice)
    assert client.get(reverse("produced_file", args=[other.pk, chart.file_id])).status_code == 404
    chart.conversation.deleted_at = timezone.now()
    chart.conversation.save()
    assert client.get(url).status_code == 404
    assert not [r for r in fake_api.requests if "/content" in r.path]  # never fetched for them


@pytest.mark.django_db
def test_staff_download_it_only_after_an_audited_opening(client, alice, staff, fake_api):
    chart = produced(alice, fake_api)
    url = reverse("review_produced_file", args=[chart.conversation_id, chart.file_id])
    client.force_login(staff)
    refused = client.get(url)
    assert refused.status_code == 403 and "Open the transcript first" in refused.content.decode()
    open_transcript(client, chart.conversation)
    response = client.get(url)
    assert response.status_code == 200 and response.content == CHART
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.django_db
def test_a_files_api_failure_is_a_clear_error(client, alice, fake_api, caplog):
    chart = produced(alice, fake_api)
    del fake_api.files.stored[chart.file_id]
    client.force_login(alice)
    response = client.get(reverse("produced_file", args=[chart.conversation_id, chart.file_id]))
    assert response.status_code == 502
    assert response.content.decode().startswith("chart.png could not be fetched from the Files API")
    assert "downloading file" in caplog.text


@pytest.mark.django_db(transaction=True)
async def test_deleting_the_conversation_deletes_its_files_from_the_api(fake_api, alice):
    grounded = analysis()
    fake_api.enqueue(grounded)
    conversation, reply = await chat_with_code(alice)
    await run_to_end(reply)
    ids = [output.file_id for output in grounded.parts[2].files]

    await sync_to_async(Conversation.objects.filter(pk=conversation.pk).delete)()  # as a purge does
    assert sorted(
        await sync_to_async(list)(RemoteFileDeletion.objects.values_list("file_id", flat=True))
    ) == sorted(ids)
    assert await attachment_files.remote_deletions_run() == 2
    assert sorted(fake_api.files.deleted) == sorted(ids)


# --- on the page ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_page_shows_the_code_its_output_and_its_files(fake_api, alice):
    grounded = analysis()
    fake_api.enqueue(grounded)
    conversation, reply = await chat_with_code(alice)
    reply = await run_to_end(reply)
    blocks = await sync_to_async(list)(ContentBlock.objects.filter(message=reply).order_by("index"))
    html = await sync_to_async(lambda: [rendering.block_html(b) for b in blocks])()
    chart, report = grounded.parts[2].files

    assert "Wrote <code>/tmp/stats.py</code>" in html[1] and "print(statistics.mean([1, 2, 3]))" in html[1]
    assert "File created." in html[2]
    assert "Ran code" in html[3] and "python /tmp/stats.py &amp;&amp; python plot.py" in html[3]
    assert "Finished" in html[4] and "2.0\n&lt;script&gt;alert(1)&lt;/script&gt;" in html[4]
    assert "<script>" not in html[4] and "UserWarning: no display" in html[4]
    chart_url = reverse("produced_file", args=[conversation.pk, chart.file_id])
    report_url = reverse("produced_file", args=[conversation.pk, report.file_id])
    assert f'<img class="thumb" src="{chart_url}" alt="chart.png"' in html[4]
    assert f'<a class="chip" href="{report_url}" download>report.html</a>' in html[4]
    assert f'src="{report_url}"' not in html[4]  # only raster images are shown inline


def test_a_failed_command_shows_its_exit_code():
    payload = {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": {
            "type": "bash_code_execution_result",
            "stdout": "",
            "stderr": "boom",
            "return_code": 2,
            "content": [],
        },
    }
    html = rendering.block_html(ContentBlock(index=3, type=payload["type"], payload=payload))
    assert "Exited with code 2" in html and "tool-error" in html and "boom" in html


@pytest.mark.django_db(transaction=True)
async def test_while_a_call_streams_the_tab_gets_its_code_not_its_json(fake_api, alice):
    code = "python -c \"print('é\\\\n')\" && echo <done>"
    fake_api.enqueue(GroundedReply([Code(code, "é\n"), EditFile("/tmp/a.py", "x = 1\n")]))
    conversation, reply = await chat_with_code(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply)
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    def text_of(index: int) -> str:
        start = next(i for i, f in enumerate(frames) if f[0] == "b" and f[3] == index)
        end = next(i for i, f in enumerate(frames) if f[0] == "c" and f[3] == index)
        assert "Running code…" in frames[start][5] or "Editing a file…" in frames[start][5]
        return "".join(f[3] for f in frames[start:end] if f[0] == "d")

    assert text_of(0) == code
    assert text_of(2) == "x = 1\n"


def test_a_call_still_streaming_shows_its_code_so_far():
    payload = {"type": "server_tool_use", "id": "s", "name": "bash_code_execution", "input": "ls <"}
    html = rendering.block_html(ContentBlock(index=1, type="server_tool_use", payload=payload))
    assert "Running code…" in html and '<pre class="streaming-text" tabindex="0">ls &lt;</pre>' in html


@pytest.mark.django_db
def test_staff_review_shows_the_code_and_links_its_files_through_the_audited_view(
    client, alice, staff, fake_api
):
    conversation, reply = services.conversation_start(user=alice, text="Run it", model="claude-sonnet-4-6")
    made = Output("made.txt", b"", file_id="file_made")
    add_blocks(reply, fake_tools.blocks(GroundedReply([Code("make", "ok", files=[made])])))
    ProducedFile.objects.create(conversation=conversation, file_id="file_made", filename="made.txt")
    client.force_login(staff)
    page = open_transcript(client, conversation).content.decode()
    assert "Ran code" in page and '<code class="language-bash">make</code>' in page
    assert f'href="{reverse("review_produced_file", args=[conversation.pk, "file_made"])}"' in page
    assert reverse("produced_file", args=[conversation.pk, "file_made"]) not in page
