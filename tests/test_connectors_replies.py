"""Connectors in a reply (conversations/claude/mcp.py) against the fake API's MCP connector: the
exact request (servers, toolsets, whose token, deferred loading, the approval tool), the blocks
streamed, stored and replayed verbatim, a connector the API cannot use, and the approval of a tool
that writes, answered over HTTP while the reply waits."""

import asyncio
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations import rendering
from conversations.claude import llm, mcp
from conversations.connectors import secrets
from conversations.models import Connector, ConnectorToken, ContentBlock, Message, TeamConnector, ToolApproval
from conversations.reply import generation
from conversations.services import conversation_start
from fakes import GroundedReply, Reply
from fakes.mcp import McpCall
from fakes.tool_search import ToolSearch
from tests.helpers import eventually, open_transcript, payloads, reload, run_to_end, send

URL = "https://tracker.example/mcp"
TOOLS = [
    {"name": "find_issue", "description": "Find an issue by words", "input_schema": {"type": "object"}},
    {"name": "create_issue", "description": "File a new issue", "input_schema": {"type": "object"}},
    {"name": "delete_issue", "description": "Delete an issue", "input_schema": {"type": "object"}},
]
MEMBER_TOKEN = "member-own-token-7f3a"
EDITOR_TOKEN = "editor-own-token-91c2"


@pytest.fixture
def tracker(team, people):
    """A connector that wants each person's own token, used by the team with two of its tools, one
    of which writes; the member and the editor each added a token."""
    connector = Connector.objects.create(
        name="tracker", title="Issue tracker", url=URL, auth=Connector.Auth.PERSONAL, tools=TOOLS
    )
    connector.teams.add(team)
    TeamConnector.objects.create(
        team=team, connector=connector, tools=["find_issue", "create_issue"], writes=["create_issue"]
    )
    for who, token in (("member", MEMBER_TOKEN), ("editor", EDITOR_TOKEN)):
        ConnectorToken.objects.create(user=people[who], connector=connector, token=secrets.encrypt(token))
    return connector


def declare(fake_api, token=MEMBER_TOKEN, **results) -> None:
    fake_api.mcp_server(
        URL,
        tools=TOOLS,
        token=token,
        results={"find_issue": "#12 Login fails on Safari", "create_issue": "Created #13", **results},
    )


async def chat(people, prompt, who="member", connectors=("tracker",), text="Any login bugs?"):
    """A chat on the team's prompt with the connectors switched on: (conversation, reply)."""
    return await sync_to_async(conversation_start)(
        user=people[who],
        text=text,
        model="claude-sonnet-4-6",
        prompt_version=await sync_to_async(lambda: prompt.latest)(),
        params={"connectors": list(connectors)},
    )


# --- the request ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_request_sends_the_server_with_the_owners_own_token_and_only_the_chosen_tools(
    fake_api, people, prompt, tracker
):
    declare(fake_api)
    fake_api.enqueue(Reply("No."))
    _, reply = await chat(people, prompt)
    reply = await run_to_end(reply)
    assert reply.status == "complete", reply.error
    request = fake_api.message_requests[-1]
    body = request.body
    assert body["mcp_servers"] == [
        {"type": "url", "name": "tracker", "url": URL, "authorization_token": MEMBER_TOKEN}
    ]
    toolsets = [t for t in body["tools"] if t.get("type") == "mcp_toolset"]
    assert toolsets == [
        {
            "type": "mcp_toolset",
            "mcp_server_name": "tracker",
            "default_config": {"enabled": False},
            "configs": {"find_issue": {"enabled": True}},  # create_issue writes: not until approved
        }
    ]
    approval = next(t for t in body["tools"] if t.get("name") == "ask_approval")
    assert approval["input_schema"]["properties"]["tool"]["enum"] == ["create_issue"]
    assert "create_issue: File a new issue" in approval["description"]
    assert mcp.BETA in request.headers["anthropic-beta"]
    assert EDITOR_TOKEN not in json.dumps(body)  # another member's token never goes out


@pytest.mark.django_db(transaction=True)
async def test_nothing_of_connectors_when_off_or_outside_the_team_or_without_a_token(
    fake_api, people, prompt, tracker, settings
):
    fake_api.enqueue(Reply("a"), Reply("b"), Reply("c"))
    conversation, reply = await chat(people, prompt, connectors=())
    await run_to_end(reply)
    assert "mcp_servers" not in fake_api.message_requests[-1].body

    await sync_to_async(ConnectorToken.objects.filter(user=people["editor"]).delete)()
    _, reply = await chat(people, prompt, who="editor")
    await run_to_end(reply)
    assert "mcp_servers" not in fake_api.message_requests[-1].body  # no token of theirs: not sent

    settings.CHAT_CONNECTORS = False  # the instance turned them off
    await sync_to_async(conversation.__class__.objects.filter(pk=conversation.pk).update)(
        params={"connectors": ["tracker"]}
    )
    await send(conversation, "Again")
    assert "mcp_servers" not in fake_api.message_requests[-1].body


@pytest.mark.django_db
def test_many_tools_load_deferred_and_the_tool_search_finds_them(settings, people, team):
    settings.CHAT_CONNECTOR_DEFER_OVER = 20
    names = [f"tool_{n:03}" for n in range(100)]
    use = mcp.ConnectorUse(
        name="big",
        title="Big",
        url=URL,
        tools=tuple(names),
        writes=(),
        token=None,
        missing_token=False,
        descriptions={},
    )
    options = mcp.request_options([use], [])
    toolset = options["tools"][0]
    assert toolset["default_config"] == {"enabled": False, "defer_loading": True}
    assert toolset["configs"]["tool_042"] == {"enabled": True}
    assert options["tools"][1] == {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"}
    assert "authorization_token" not in options["mcp_servers"][0]  # a connector without a token
    few = mcp.request_options([use.__class__(**{**use.__dict__, "tools": tuple(names[:5])})], [])
    assert few["tools"][0]["default_config"] == {"enabled": False}
    assert len(few["tools"]) == 1


# --- streamed, stored, replayed ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_connector_call_is_streamed_stored_shown_and_replayed_verbatim(
    fake_api, people, prompt, tracker, caplog, client, staff
):
    caplog.set_level(logging.DEBUG)
    declare(fake_api)
    fake_api.enqueue(
        GroundedReply(["Let me look.", McpCall("tracker", "find_issue", {"query": "login"}), "One: #12."]),
        Reply("Still #12."),
    )
    conversation, reply = await chat(people, prompt)
    reply = await run_to_end(reply)
    assert reply.status == "complete", reply.error
    stored = await payloads(reply)
    call = next(b for b in stored if b["type"] == "mcp_tool_use")
    result = next(b for b in stored if b["type"] == "mcp_tool_result")
    assert call["server_name"] == "tracker" and call["name"] == "find_issue"
    assert call["input"] == {"query": "login"}
    assert result["tool_use_id"] == call["id"] and result["is_error"] is False
    html = await sync_to_async(rendering.message_html)(reply)
    assert "tracker</span>: find_issue" in html and "#12 Login fails on Safari" in html

    await send(conversation, "And now?")
    replayed = fake_api.message_requests[-1].body["messages"][1]["content"]
    assert call in replayed and result in replayed  # verbatim, id and all
    assert MEMBER_TOKEN not in caplog.text  # the SDK's own debug lines stay off (settings.LOGGING)

    await sync_to_async(client.force_login)(staff)  # staff review shows the call and its result
    transcript = (await sync_to_async(open_transcript)(client, conversation)).content.decode()
    assert "tracker</span>: find_issue" in transcript and "#12 Login fails on Safari" in transcript
    assert MEMBER_TOKEN not in transcript


@pytest.mark.django_db(transaction=True)
async def test_deferred_tools_are_found_by_the_tool_search_and_its_blocks_replayed(
    fake_api, people, prompt, tracker, settings
):
    settings.CHAT_CONNECTOR_DEFER_OVER = 1  # the tracker's two tools load deferred
    declare(fake_api)
    fake_api.enqueue(
        GroundedReply(
            [ToolSearch("find an issue"), McpCall("tracker", "find_issue", {"query": "login"}), "#12."]
        ),
        Reply("Yes."),
    )
    conversation, reply = await chat(people, prompt)
    reply = await run_to_end(reply)
    assert reply.status == "complete", reply.error
    stored = await payloads(reply)
    search, found = stored[0], stored[1]
    assert search["type"] == "server_tool_use" and search["name"] == "tool_search_tool_bm25"
    assert found["type"] == "tool_search_tool_result"
    html = await sync_to_async(rendering.message_html)(reply)
    assert "Looking for tools: <q>find an issue</q>" in html and "Found find_issue" in html

    await send(conversation, "Still?")
    replayed = fake_api.message_requests[-1].body["messages"][1]["content"]
    assert search in replayed and found in replayed


@pytest.mark.django_db(transaction=True)
async def test_a_request_with_connectors_is_counted_with_its_servers_and_toolsets(
    fake_api, people, prompt, tracker
):
    """What fits the context window (context_window.py) is counted by the beta count_tokens, which
    takes the servers and toolsets; the plain one would refuse them."""
    declare(fake_api)
    fake_api.enqueue(Reply("No."))
    _, reply = await chat(people, prompt)
    await run_to_end(reply)
    body = fake_api.message_requests[-1].body | {"betas": [mcp.BETA]}  # the SDK sent them as a header
    with_tools = await llm.count_tokens(body)
    assert fake_api.requests[-1].path.startswith("/v1/messages/count_tokens")
    assert fake_api.requests[-1].body["mcp_servers"] == body["mcp_servers"]
    bare = {k: v for k, v in body.items() if k not in ("mcp_servers", "tools")}
    assert with_tools > await llm.count_tokens(bare)  # the enabled tool's listing counts


@pytest.mark.django_db(transaction=True)
async def test_an_unreachable_connector_is_left_out_and_the_reply_says_so(fake_api, people, prompt, tracker):
    fake_api.mcp_server(URL, tools=TOOLS, reachable=False)
    fake_api.enqueue(Reply("Answered without it."))
    conversation, reply = await chat(people, prompt)
    reply = await run_to_end(reply)
    assert reply.status == "complete", reply.error
    assert await sync_to_async(lambda: "".join(b.payload.get("text", "") for b in reply.blocks.all()))() == (
        "Answered without it."
    )
    [error] = reply.options["connector_errors"]
    assert error.startswith("Issue tracker: ") and "'tracker'" in error
    first, second = fake_api.message_requests[-2:]
    assert "mcp_servers" in first.body and "mcp_servers" not in second.body
    html = await sync_to_async(rendering.message_html)(reply)
    assert "Answered without a connector: Issue tracker" in html


@pytest.mark.django_db(transaction=True)
async def test_a_refused_token_is_left_out_too(fake_api, people, prompt, tracker):
    declare(fake_api, token="the-right-one")
    fake_api.enqueue(Reply("Fine."))
    _, reply = await chat(people, prompt)
    reply = await run_to_end(reply)
    assert reply.status == "complete"
    assert "Invalid authorization token" in reply.options["connector_errors"][0]


# --- a tool that writes asks first ---------------------------------------------------------------


def ask(tool="create_issue", **value) -> Reply:
    asked = {"server": "tracker", "tool": tool, "input": {"title": "Safari login"}, "why": "Files #13"}
    return Reply(
        "I'll file it.",
        tool_use={"id": "toolu_ask1", "name": "ask_approval", "input": asked | value},
        stop_reason="tool_use",
    )


async def approval_row(reply: Message) -> ToolApproval:
    return await eventually(
        sync_to_async(lambda: ToolApproval.objects.filter(message=reply, call_id="toolu_ask1").first()),
        what="the wait",
    )


@pytest.mark.django_db(transaction=True)
async def test_approved_the_tool_is_enabled_for_one_call(fake_api, people, prompt, tracker, client):
    declare(fake_api)
    fake_api.enqueue(
        ask(),
        GroundedReply([McpCall("tracker", "create_issue", {"title": "Safari login"}), "Filed #13."]),
    )
    _, reply = await chat(people, prompt, text="File it")
    generation.start(reply)
    row = await approval_row(reply)
    assert row.approved is None
    assert len(fake_api.message_requests) == 1  # nothing goes out while it waits

    await sync_to_async(client.force_login)(people["outsider"])
    url = reverse("answer_approval", args=[reply.pk, "toolu_ask1"])
    assert (await sync_to_async(client.post)(url, {"answer": "approve"})).status_code == 404
    await sync_to_async(client.force_login)(people["member"])
    answered = await sync_to_async(client.post)(url, {"answer": "approve"}, headers={"HX-Request": "true"})
    assert answered.status_code == 200 and "Approved" in answered.content.decode()

    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete", reply.error
    second = fake_api.message_requests[1].body
    configs = next(t for t in second["tools"] if t.get("type") == "mcp_toolset")["configs"]
    assert configs["create_issue"] == {"enabled": True}
    result = next(b for b in await payloads(reply) if b["type"] == "tool_result")
    assert result["tool_use_id"] == "toolu_ask1" and not result.get("is_error")
    assert (await sync_to_async(client.post)(url, {"answer": "deny"})).status_code == 302  # answered once

    await send(await sync_to_async(lambda: reply.conversation)(), "Another?")
    later = next(t for t in fake_api.message_requests[-1].body["tools"] if t.get("type") == "mcp_toolset")
    assert "create_issue" not in later["configs"]  # the approval was for that one call


@pytest.mark.django_db(transaction=True)
async def test_denied_claude_reads_the_reason_and_the_tool_stays_off(
    fake_api, people, prompt, tracker, client
):
    declare(fake_api)
    fake_api.enqueue(ask(), Reply("Understood, not filing it."))
    _, reply = await chat(people, prompt, text="File it")
    generation.start(reply)
    await approval_row(reply)
    await sync_to_async(client.force_login)(people["member"])
    url = reverse("answer_approval", args=[reply.pk, "toolu_ask1"])
    await sync_to_async(client.post)(url, {"answer": "deny", "reason": "It is a duplicate"})
    await generation.wait_all()
    result = next(b for b in await payloads(await reload(reply)) if b["type"] == "tool_result")
    assert result["is_error"] is True and "It is a duplicate" in result["content"]
    configs = next(t for t in fake_api.message_requests[1].body["tools"] if t.get("type") == "mcp_toolset")
    assert "create_issue" not in configs["configs"]
    block = await sync_to_async(ContentBlock.objects.get)(message=reply, payload__id="toolu_ask1")
    assert "Denied: It is a duplicate" in await sync_to_async(rendering.block_html)(block)

    # A reply that ended while it asked (the server restarted, say) shows no form to answer.
    await ToolApproval.objects.filter(message=reply).adelete()
    html = await sync_to_async(rendering.block_html)(block)
    assert "Approve" not in html and "Denied: The reply ended before an answer." in html


@pytest.mark.django_db(transaction=True)
async def test_no_answer_in_time_is_a_no_and_a_tool_that_does_not_ask_is_refused(
    fake_api, people, prompt, tracker, settings
):
    settings.CHAT_APPROVAL_TIMEOUT = 0.3
    declare(fake_api)
    fake_api.enqueue(ask(), Reply("OK."))
    _, reply = await chat(people, prompt, text="File it")
    reply = await asyncio.wait_for(run_to_end(reply), 10)
    result = next(b for b in await payloads(reply) if b["type"] == "tool_result")
    assert result["is_error"] and "No answer in time" in result["content"]

    fake_api.enqueue(ask(tool="find_issue"), Reply("OK."))
    _, reply = await chat(people, prompt, text="Find it")
    reply = await run_to_end(reply)
    result = next(b for b in await payloads(reply) if b["type"] == "tool_result")
    assert result["is_error"] and "not a connector tool that asks first" in result["content"]
