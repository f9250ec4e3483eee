# Self-tests for fakes/mcp.py and fakes/tool_search.py, driving the REAL anthropic SDK over a real
# socket: the MCP connector's blocks and the tool search's parse into the SDK's beta types, the
# requests the API refuses are refused, and deferred loading changes the input tokens.
from __future__ import annotations

import json

import anthropic
import pytest
from anthropic.types.beta import (
    BetaMCPToolResultBlock,
    BetaMCPToolUseBlock,
    BetaServerToolUseBlock,
    BetaTextBlock,
    BetaToolSearchToolResultBlock,
)

from fakes import FakeAnthropic, GroundedReply
from fakes.mcp import McpCall, ToolError, tool_definition_tokens
from fakes.tool_search import ToolSearch
from tests.helpers import sdk_client

MODEL = "claude-sonnet-4-6"
BETAS = ["mcp-client-2025-11-20"]
URL = "https://crm.example/mcp"
LOOKUP = {
    "name": "lookup_customer",
    "description": "Find a customer by email.",
    "input_schema": {"type": "object", "properties": {"email": {"type": "string"}}},
}
DELETE = {"name": "delete_customer", "description": "Delete a customer.", "input_schema": {"type": "object"}}


def server(token: str | None = "alice-token", name: str = "crm", url: str = URL) -> dict:
    definition = {"type": "url", "name": name, "url": url}
    return {**definition, "authorization_token": token} if token else definition


def toolset(name: str = "crm", **config) -> dict:
    return {"type": "mcp_toolset", "mcp_server_name": name, **config}


async def create(fake: FakeAnthropic, *, servers=None, tools=None, betas=BETAS, messages=None, stream=False):
    """The message (or, streamed, its events), the client closed in the test's own loop."""
    async with sdk_client(fake) as client:
        answer = await client.beta.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=messages or [{"role": "user", "content": "Who is ada@example.com?"}],
            mcp_servers=[server()] if servers is None else servers,
            tools=[toolset()] if tools is None else tools,
            betas=betas,
            stream=stream,
        )
        return [event async for event in answer] if stream else answer


def declare_crm(fake: FakeAnthropic, **kwargs) -> None:
    results = {"lookup_customer": lambda given: f"{given['email']}: Ada Lovelace, since 1843"}
    fake.mcp_server(URL, tools=[LOOKUP, DELETE], results=results, token="alice-token", **kwargs)


@pytest.mark.asyncio
async def test_a_streamed_mcp_call_parses_into_the_sdk_types(fake: FakeAnthropic) -> None:
    declare_crm(fake)
    call = McpCall("crm", "lookup_customer", {"email": "ada@example.com"})
    fake.enqueue(GroundedReply(["Let me look.", call, "She is a customer."]))

    events = await create(fake, stream=True)

    starts = [e.content_block for e in events if e.type == "content_block_start"]
    assert [type(b) for b in starts] == [
        BetaTextBlock,
        BetaMCPToolUseBlock,
        BetaMCPToolResultBlock,
        BetaTextBlock,
    ]
    use, result = starts[1], starts[2]
    assert (use.name, use.server_name, use.input) == ("lookup_customer", "crm", {})
    assert use.id.startswith("mcptoolu_")
    pieces = [e.delta.partial_json for e in events if e.type == "content_block_delta" and e.index == 1]
    assert len(pieces) == 2 and json.loads("".join(pieces)) == {"email": "ada@example.com"}
    assert result.tool_use_id == use.id and result.is_error is False
    assert [(b.type, b.text) for b in result.content] == [
        ("text", "ada@example.com: Ada Lovelace, since 1843")
    ]
    usage = [e.usage for e in events if e.type == "message_delta"][0]
    assert (usage.server_tool_use.web_search_requests, usage.server_tool_use.web_fetch_requests) == (0, 0)
    # The request is recorded as sent: whose token went out.
    assert fake.message_requests[-1].body["mcp_servers"] == [server()]
    assert "mcp-client-2025-11-20" in fake.message_requests[-1].headers["anthropic-beta"]


@pytest.mark.asyncio
async def test_an_unstreamed_mcp_call_and_a_tool_error(fake: FakeAnthropic) -> None:
    fake.mcp_server(URL, tools=[LOOKUP], results={"lookup_customer": ToolError("CRM is read-only today")})
    fake.enqueue(GroundedReply([McpCall("crm", "lookup_customer", {"email": "x@example.com"})]))

    message = await create(fake, servers=[server(token=None)])

    use, result = message.content
    assert isinstance(use, BetaMCPToolUseBlock) and use.input == {"email": "x@example.com"}
    assert isinstance(result, BetaMCPToolResultBlock)
    assert result.is_error is True and result.content[0].text == "CRM is read-only today"


REFUSALS = [
    ({"betas": ["compact-2026-01-12"]}, "anthropic-beta header mcp-client-2025-11-20"),
    ({"tools": [toolset("calendar")]}, "MCP server 'calendar' is not defined in mcp_servers"),
    ({"tools": []}, "MCP server 'crm' must be referenced by exactly one mcp_toolset (found 0)"),
    (
        {"tools": [toolset(), toolset()]},
        "MCP server 'crm' must be referenced by exactly one mcp_toolset (found 2)",
    ),
    ({"servers": [server(url="http://crm.example/mcp")]}, "MCP server 'crm' must start with https://"),
    ({"servers": [server(), server()], "tools": [toolset()]}, "more than one MCP server is named 'crm'"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("change", "message"), REFUSALS)
async def test_what_the_api_refuses_is_a_400_before_any_script(fake: FakeAnthropic, change, message) -> None:
    declare_crm(fake)
    fake.enqueue(GroundedReply(["unused"]))

    with pytest.raises(anthropic.BadRequestError) as refused:
        await create(fake, **change)

    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert message in refused.value.body["error"]["message"]
    assert (await create(fake)).content[0].text == "unused"  # the script is still queued


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("declared", "token", "message"),
    [
        ({"token": "alice-token"}, "bob-token", "Invalid authorization token for MCP server 'crm'."),
        ({"token": "alice-token"}, None, "Invalid authorization token for MCP server 'crm'."),
        ({"reachable": False}, "alice-token", "Connection error while communicating with MCP server 'crm'."),
    ],
)
async def test_a_refused_token_or_an_unreachable_server_is_a_400_naming_it(
    fake: FakeAnthropic, declared, token, message
) -> None:
    fake.mcp_server(URL, tools=[LOOKUP], **declared)

    with pytest.raises(anthropic.BadRequestError) as refused:
        await create(fake, servers=[server(token=token)], stream=True)

    assert refused.value.body["error"]["message"].startswith(message)


@pytest.mark.asyncio
async def test_a_url_no_test_declared_cannot_be_reached(fake: FakeAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="MCP server 'wiki'"):
        await create(
            fake, servers=[server(name="wiki", url="https://wiki.example/mcp")], tools=[toolset("wiki")]
        )


@pytest.mark.asyncio
async def test_a_pinned_listing_meets_the_unreachable_server_at_the_call(fake: FakeAnthropic) -> None:
    fake.mcp_server(URL, tools=[LOOKUP], reachable=False)
    fake.enqueue(GroundedReply([McpCall("crm", "lookup_customer", {"email": "a@example.com"}), "It failed."]))

    message = await create(fake, tools=[toolset(tools=[LOOKUP])])

    result = message.content[1]
    assert isinstance(result, BetaMCPToolResultBlock) and result.is_error is True
    assert result.content[0].text == "Connection error while communicating with MCP server 'crm'."


@pytest.mark.asyncio
async def test_a_disabled_tool_is_never_called(fake: FakeAnthropic) -> None:
    declare_crm(fake)
    allow_lookup_only = toolset(
        default_config={"enabled": False}, configs={"lookup_customer": {"enabled": True}}
    )
    fake.enqueue(
        GroundedReply(
            [
                McpCall("crm", "delete_customer", {"id": 7}),
                McpCall("crm", "lookup_customer", {"email": "a@b"}),
            ]
        )
    )

    message = await create(fake, tools=[allow_lookup_only])

    first, use, result = message.content
    assert isinstance(first, BetaTextBlock)
    assert first.text == "I cannot use delete_customer on crm: it is not available."
    assert isinstance(use, BetaMCPToolUseBlock) and use.name == "lookup_customer"
    assert result.content[0].text == "a@b: Ada Lovelace, since 1843"


def many_tools(count: int) -> list[dict]:
    return [
        {
            "name": f"report_{n}",
            "description": f"Builds sales report number {n} for a region and a quarter.",
            "input_schema": {
                "type": "object",
                "properties": {"region": {"type": "string"}, "quarter": {"type": "integer"}},
                "required": ["region", "quarter"],
            },
        }
        for n in range(count)
    ]


@pytest.mark.asyncio
async def test_deferred_tools_count_no_input_tokens_until_a_search_finds_them(fake: FakeAnthropic) -> None:
    fake.mcp_server(URL, tools=many_tools(100), results={"report_42": "Q3 north: 1.2M"}, token="alice-token")
    search_tool = {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"}
    deferred = [toolset(default_config={"defer_loading": True}), search_tool]

    loaded = (await create(fake)).usage.input_tokens
    lazy = (await create(fake, tools=deferred)).usage.input_tokens
    fake.enqueue(GroundedReply([ToolSearch("report_42"), McpCall("crm", "report_42", {"region": "north"})]))
    searched = await create(fake, tools=deferred)
    after = searched.usage.input_tokens
    print(f"\n100 MCP tools: {loaded} input tokens loaded, {lazy} deferred, {after} after a search")

    each = [tool_definition_tokens(tool) for tool in many_tools(100)]
    assert lazy < 30 and 40 < each[42] < 60 and loaded == lazy + sum(each)
    assert after == lazy + each[42]
    assert [u["input_tokens"] for u in fake.usages] == [loaded, lazy, after]
    async with sdk_client(fake) as client:
        counted = await client.beta.messages.count_tokens(
            model=MODEL,
            messages=[{"role": "user", "content": "Who is ada@example.com?"}],
            mcp_servers=[server()],
            tools=[toolset()],
            betas=BETAS,
        )
    assert counted.input_tokens == loaded


@pytest.mark.asyncio
async def test_a_streamed_tool_search_parses_and_loads_what_it_found(fake: FakeAnthropic) -> None:
    fake.mcp_server(URL, tools=many_tools(20), results={"report_7": "Q1 south: 0.4M"}, token="alice-token")
    tools = [
        toolset(configs={"report_7": {"defer_loading": True}}),
        {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
    ]
    fake.enqueue(
        GroundedReply([ToolSearch("sales report", ["report_7"]), McpCall("crm", "report_7", {"quarter": 1})])
    )

    events = await create(fake, tools=tools, stream=True)

    starts = [e.content_block for e in events if e.type == "content_block_start"]
    assert [type(b) for b in starts] == [
        BetaServerToolUseBlock,
        BetaToolSearchToolResultBlock,
        BetaMCPToolUseBlock,
        BetaMCPToolResultBlock,
    ]
    search, found = starts[0], starts[1]
    assert (search.name, search.input) == ("tool_search_tool_bm25", {})
    pieces = [e.delta.partial_json for e in events if e.type == "content_block_delta" and e.index == 0]
    assert json.loads("".join(pieces)) == {"query": "sales report"}
    assert found.tool_use_id == search.id and found.content.type == "tool_search_tool_search_result"
    assert [(r.type, r.tool_name) for r in found.content.tool_references] == [("tool_reference", "report_7")]
    assert starts[3].content[0].text == "Q1 south: 0.4M"


@pytest.mark.asyncio
async def test_the_regex_search_finds_the_deferred_tools_that_match(fake: FakeAnthropic) -> None:
    fake.mcp_server(URL, tools=many_tools(12), token="alice-token")
    tools = [
        toolset(default_config={"defer_loading": True}),
        {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
    ]
    fake.enqueue(GroundedReply([ToolSearch(r"report_1\d")]))

    message = await create(fake, tools=tools)

    search, found = message.content
    assert (search.name, search.input) == ("tool_search_tool_regex", {"pattern": r"report_1\d"})
    assert [r.tool_name for r in found.content.tool_references] == ["report_10", "report_11"]


@pytest.mark.asyncio
async def test_a_search_found_in_an_earlier_turn_keeps_its_tool_loaded(fake: FakeAnthropic) -> None:
    fake.mcp_server(URL, tools=many_tools(5), results={"report_3": "done"}, token="alice-token")
    tools = [
        toolset(default_config={"defer_loading": True}),
        {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
    ]
    fake.enqueue(GroundedReply([ToolSearch("report_3", ["report_3"])]))
    first = await create(fake, tools=tools)
    history = [
        {"role": "user", "content": "Run report 3"},
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": "Again"},
    ]
    fake.enqueue(GroundedReply([McpCall("crm", "report_3", {})]))

    again = await create(fake, tools=tools, messages=history)

    assert again.content[1].content[0].text == "done"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("parts", "mistake"),
    [
        ([McpCall("crm", "report_3", {})], "the deferred tool 'report_3' before a tool search found it"),
        ([McpCall("wiki", "report_3", {})], "MCP server 'wiki'; the request has none of that name"),
        ([McpCall("crm", "report_9", {})], "'report_9', which MCP server 'crm' does not list"),
        ([ToolSearch("x", ["report_0"])], "'report_0', which is not a deferred tool of the request"),
    ],
)
async def test_a_script_the_real_api_could_not_answer_is_a_500(fake: FakeAnthropic, parts, mistake) -> None:
    fake.mcp_server(URL, tools=many_tools(5), token="alice-token")
    tools = [
        toolset(configs={"report_3": {"defer_loading": True}}),
        {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
    ]
    fake.enqueue(GroundedReply(parts))

    with pytest.raises(anthropic.InternalServerError) as failed:
        await create(fake, tools=tools)

    assert mistake in failed.value.body["error"]["message"]
