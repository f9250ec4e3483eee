# Self-tests for fakes/server_tools.py, driving the REAL anthropic SDK over a real socket: the
# server tool blocks, citations_delta and usage.server_tool_use parse into the SDK's own types,
# and the streamed message equals the non-streamed one.
from __future__ import annotations

import pytest
from anthropic.types import (
    BashCodeExecutionResultBlock,
    BashCodeExecutionToolResultBlock,
    BashCodeExecutionToolResultErrorObject,
    CitationPageLocation,
    CitationsWebSearchResultLocation,
    ServerToolUseBlock,
    TextBlock,
    TextEditorCodeExecutionToolResultBlock,
    WebFetchToolResultBlock,
    WebSearchToolResultBlock,
)
from anthropic.types.parsed_message import ParsedTextBlock
from anthropic.types.web_search_tool_result_error_object import WebSearchToolResultErrorObject

from fakes import Cited, Code, EditFile, FakeAnthropic, Fetch, GroundedReply, Output, Search
from fakes.server_tools import page_citation, search_result, web_citation
from tests.helpers import sdk_client

MODEL = "claude-sonnet-4-6"
TOOLS = [
    {"type": "web_search_20260318", "name": "web_search"},
    {"type": "web_fetch_20260318", "name": "web_fetch"},
]


KINDS = [
    TextBlock,
    ServerToolUseBlock,
    WebSearchToolResultBlock,
    ServerToolUseBlock,
    WebFetchToolResultBlock,
    TextBlock,
]


def grounded() -> tuple[GroundedReply, list[dict]]:
    results = [
        search_result("https://a.example/one", "First source"),
        search_result("https://b.example/two", "Second"),
    ]
    cites = [web_citation(results[0], "one fact"), web_citation(results[1], "another fact")]
    reply = GroundedReply(
        [
            "Let me look.",
            Search("weather in Paris", results),
            Fetch("https://b.example/two", title="Two", text="another fact, fetched"),
            Cited("Paris is sunny.", cites),
        ],
        request_id="req_grounded",
    )
    return reply, results


@pytest.mark.asyncio
async def test_a_grounded_stream_parses_into_the_sdk_types(fake: FakeAnthropic) -> None:
    reply, results = grounded()
    fake.enqueue(reply)

    async with sdk_client(fake).messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS
    ) as stream:
        events = [event async for event in stream]
        message = await stream.get_final_message()

    assert [type(block) for block in message.content] == [ParsedTextBlock, *KINDS[1:-1], ParsedTextBlock]
    search, found = message.content[1], message.content[2]
    assert search.name == "web_search" and search.input == {"query": "weather in Paris"}
    assert found.tool_use_id == search.id and search.id.startswith("srvtoolu_")
    assert [r.encrypted_content for r in found.content] == [r["encrypted_content"] for r in results]
    assert message.content[3].input == {"url": "https://b.example/two"}
    fetched = message.content[4].content
    assert fetched.url == "https://b.example/two" and fetched.content.source.data == "another fact, fetched"
    cited = message.content[5]
    assert cited.text == "Paris is sunny."
    assert [type(c) for c in cited.citations] == [CitationsWebSearchResultLocation] * 2
    assert (
        cited.citations[1].url == "https://b.example/two" and cited.citations[1].cited_text == "another fact"
    )
    assert message.usage.server_tool_use.web_search_requests == 1
    assert message.usage.server_tool_use.web_fetch_requests == 1
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert "citations_delta" in deltas and "input_json_delta" in deltas
    # The server tool input streams as JSON pieces, from an empty input at the block's start.
    starts = [
        e for e in events if e.type == "content_block_start" and e.content_block.type == "server_tool_use"
    ]
    assert starts[0].content_block.input == {}
    assert stream.response.headers["request-id"] == "req_grounded"


@pytest.mark.asyncio
async def test_the_whole_message_equals_the_streamed_one(fake: FakeAnthropic) -> None:
    client = sdk_client(fake)
    args = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "q"}]}
    fake.enqueue(grounded()[0])
    async with client.messages.stream(**args) as stream:
        streamed = await stream.get_final_message()
    fake.enqueue(grounded()[0])
    whole = await client.messages.create(**args)

    def shape(message) -> list[dict]:
        return [
            {k: v for k, v in block.to_dict().items() if k not in ("id", "tool_use_id")}
            for block in message.content
        ]

    assert [type(block) for block in whole.content] == KINDS
    assert shape(streamed) == shape(whole)
    assert whole.usage.server_tool_use == streamed.usage.server_tool_use


@pytest.mark.asyncio
async def test_errors_and_document_citations(fake: FakeAnthropic) -> None:
    fake.enqueue(
        GroundedReply(
            [
                Search("too many", error_code="max_uses_exceeded"),
                Cited("Page two says so.", [page_citation("so", page=2)]),
            ]
        )
    )

    async with sdk_client(fake).messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "q"}]
    ) as stream:
        message = await stream.get_final_message()

    error = message.content[1].content
    assert isinstance(error, WebSearchToolResultErrorObject) and error.error_code == "max_uses_exceeded"
    citation = message.content[2].citations[0]
    assert isinstance(citation, CitationPageLocation)
    assert (citation.start_page_number, citation.end_page_number, citation.document_index) == (2, 3, 0)
    assert message.usage.server_tool_use.web_search_requests == 1


# --- code execution ------------------------------------------------------------------------------


def code_reply() -> GroundedReply:
    return GroundedReply(
        [
            EditFile("/tmp/a.py", "print(42)\n"),
            Code(
                "python /tmp/a.py",
                "42\n",
                stderr="warn",
                files=[Output("out.csv", b"a,b\n1,2\n", "text/csv")],
            ),
            Code("sleep 999", error_code="execution_time_exceeded"),
            "Done.",
        ]
    )


@pytest.mark.asyncio
async def test_code_execution_parses_into_the_sdk_types_and_its_files_download(fake: FakeAnthropic) -> None:
    reply = code_reply()
    fake.enqueue(reply)
    client = sdk_client(fake)
    tools = [{"type": "code_execution_20260521", "name": "code_execution"}]

    async with client.messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "run"}], tools=tools
    ) as stream:
        events = [event async for event in stream]
        message = await stream.get_final_message()

    kinds = [type(block) for block in message.content]
    assert kinds == [
        ServerToolUseBlock,
        TextEditorCodeExecutionToolResultBlock,
        ServerToolUseBlock,
        BashCodeExecutionToolResultBlock,
        ServerToolUseBlock,
        BashCodeExecutionToolResultBlock,
        ParsedTextBlock,
    ]
    edit, created = message.content[0], message.content[1]
    assert edit.name == "text_editor_code_execution"
    assert edit.input == {"command": "create", "path": "/tmp/a.py", "file_text": "print(42)\n"}
    assert created.tool_use_id == edit.id and created.content.is_file_update is False
    run, result = message.content[2], message.content[3]
    assert run.name == "bash_code_execution" and run.input == {"command": "python /tmp/a.py"}
    assert isinstance(result.content, BashCodeExecutionResultBlock)
    assert (result.content.stdout, result.content.stderr, result.content.return_code) == ("42\n", "warn", 0)
    error = message.content[5].content
    assert isinstance(error, BashCodeExecutionToolResultErrorObject)
    assert error.error_code == "execution_time_exceeded"

    delta = next(e for e in events if e.type == "message_delta").delta
    assert delta.container.id == reply.container and reply.container.startswith("container_")

    file_id = result.content.content[0].file_id
    metadata = await client.files.retrieve_metadata(file_id)
    assert (metadata.filename, metadata.mime_type, metadata.downloadable) == ("out.csv", "text/csv", True)
    assert await (await client.files.download(file_id)).read() == b"a,b\n1,2\n"


@pytest.mark.asyncio
async def test_a_request_with_a_container_keeps_it_and_the_whole_message_names_it(
    fake: FakeAnthropic,
) -> None:
    client = sdk_client(fake)
    args = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "q"}]}
    fake.enqueue(code_reply())
    async with client.messages.stream(**args, container="container_kept") as stream:
        streamed = await stream.get_final_message()
    fake.enqueue(code_reply())
    whole = await client.messages.create(**args)

    assert streamed.container.id == "container_kept"
    assert whole.container.id.startswith("container_") and whole.container.id != "container_kept"
    assert [b.type for b in whole.content] == [b.type for b in streamed.content]
