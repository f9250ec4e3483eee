# Self-tests for fakes/fake_anthropic.py, driving the REAL anthropic SDK over a real socket.
#
# What the SDK (anthropic 2.12.0, httpx2 2.16.2) raises, asserted below:
#   Cut            -> httpx2.RemoteProtocolError while iterating the stream (unwrapped), message
#                     "peer closed connection without sending complete message body
#                     (incomplete chunked read)"
#   SSEError       -> exactly anthropic.APIStatusError while iterating (status_code 200, so no subclass)
#   HttpError(401) -> anthropic.AuthenticationError, with .request_id from the request-id header
from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import anthropic
import httpx2
import pytest

from fakes import (
    Cut,
    FakeAnthropic,
    HttpError,
    Reply,
    SSEError,
    Stall,
    split_chunks,
)
from tests.helpers import sdk_client

MODEL = "claude-sonnet-4-6"


def params(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_split_chunks_keeps_every_character() -> None:
    for text in ["Hello world", "  leading\n\nand trailing  ", "\n", "   ", "", "one"]:
        assert "".join(split_chunks(text)) == text
    assert split_chunks("Hello big world") == ["Hello ", "big ", "world"]


@pytest.mark.asyncio
async def test_streamed_reply_round_trips(fake: FakeAnthropic) -> None:
    text = "Hello world,\n  this is a *streamed* reply.\n"
    fake.enqueue(Reply(text, stop_reason="max_tokens", input_tokens=42))

    stream = await sdk_client(fake).messages.create(**params("hello"), stream=True)
    events = [event async for event in stream]

    assert [e.type for e in events[:2]] == ["message_start", "content_block_start"]
    assert [e.type for e in events[-3:]] == [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    deltas = [
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"
    ]
    assert "".join(deltas) == text
    assert deltas == split_chunks(text)

    start = events[0].message
    assert start.model == MODEL and start.role == "assistant" and start.id.startswith("msg_")
    assert start.usage.input_tokens == 42
    assert start.usage.cache_creation_input_tokens == 0 and start.usage.cache_read_input_tokens == 0
    message_delta = events[-2]
    assert message_delta.delta.stop_reason == "max_tokens"
    assert message_delta.usage.output_tokens == len(deltas)

    request_id = stream.response.headers["request-id"]
    assert request_id.startswith("req_")
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert fake.replies[-1].request_id == request_id
    assert fake.replies[-1].text_sent == text
    assert len(fake.replies[-1].delta_times) == len(deltas)

    recorded = fake.requests[-1]
    assert recorded.path == "/v1/messages"
    assert recorded.body["stream"] is True and recorded.body["messages"][0]["content"] == "hello"
    # anthropic 2.12.0 sends the key as a bearer token, not x-api-key.
    assert recorded.headers["authorization"] == "Bearer test"


@pytest.mark.asyncio
async def test_stream_helper_and_non_streaming_give_the_same_message(
    fake: FakeAnthropic,
) -> None:
    client = sdk_client(fake)
    fake.enqueue(Reply("Same text", request_id="req_fixed"), Reply("Same text"))

    async with client.messages.stream(**params()) as stream:
        streamed = await stream.get_final_message()
        assert stream.response.headers["request-id"] == "req_fixed"
    whole = await client.messages.create(**params())

    assert streamed.content[0].text == whole.content[0].text == "Same text"
    assert streamed.usage.output_tokens == whole.usage.output_tokens == 2
    assert streamed.stop_reason == whole.stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_thinking_block_with_signature(fake: FakeAnthropic) -> None:
    fake.enqueue(
        Reply(
            "The answer is 4.",
            thinking="2 + 2 is\nfour.",
            thinking_signature="sig-abc==",
        )
    )

    async with sdk_client(fake).messages.stream(**params("2+2?")) as stream:
        kinds = [event.type async for event in stream]
        message = await stream.get_final_message()

    assert "thinking" in kinds and "signature" in kinds
    thinking, text = message.content
    assert thinking.type == "thinking"
    assert thinking.thinking == "2 + 2 is\nfour."
    assert thinking.signature == "sig-abc=="
    assert text.type == "text" and text.text == "The answer is 4."


@pytest.mark.asyncio
async def test_529_is_retried_then_succeeds(fake: FakeAnthropic) -> None:
    fake.enqueue(HttpError(529, retry_after=0), Reply("after retry"))

    async with sdk_client(fake, max_retries=2).messages.stream(**params()) as stream:
        message = await stream.get_final_message()

    assert message.content[0].text == "after retry"
    assert len(fake.requests) == 2
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"


@pytest.mark.asyncio
async def test_401_raises_authentication_error(fake: FakeAnthropic) -> None:
    fake.enqueue(HttpError(401, message="invalid x-api-key", request_id="req_auth"))

    with pytest.raises(anthropic.AuthenticationError) as caught:
        async with sdk_client(fake, max_retries=2).messages.stream(**params()) as stream:
            await stream.get_final_message()

    assert caught.value.status_code == 401
    assert caught.value.request_id == "req_auth"
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": "req_auth",
    }
    assert len(fake.requests) == 1  # 401 is not retried


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
async def test_http_error_types(
    fake: FakeAnthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    fake.enqueue(HttpError(status, retry_after=7))

    with pytest.raises(error_class) as caught:
        await sdk_client(fake).messages.create(**params())

    assert caught.value.body["error"]["type"] == error_type
    assert caught.value.response.headers["retry-after"] == "7"


@pytest.mark.asyncio
async def test_cut_raises_remote_protocol_error(fake: FakeAnthropic) -> None:
    fake.enqueue(Cut("one two three four", after_deltas=2))
    received: list[str] = []

    with pytest.raises(httpx2.RemoteProtocolError) as caught:
        async with sdk_client(fake, max_retries=2).messages.stream(**params()) as stream:
            async for text in stream.text_stream:
                received.append(text)

    assert type(caught.value) is httpx2.RemoteProtocolError
    assert "incomplete chunked read" in str(caught.value)
    assert received == ["one ", "two "]
    assert fake.replies[-1].text_sent == "one two "
    assert len(fake.requests) == 1  # a mid-stream failure is not retried by the SDK

    # The server carries on after a cut.
    assert (await sdk_client(fake).messages.create(**params("still there?"))).content[
        0
    ].text == "Echo: still there?"


@pytest.mark.asyncio
async def test_stall_times_out_and_server_stops_cleanly() -> None:
    fake = FakeAnthropic().start()
    port = int(fake.base_url.rsplit(":", 1)[1])
    fake.enqueue(Stall("partial text", seconds=5))
    received: list[str] = []

    with pytest.raises(TimeoutError):
        async with sdk_client(fake).messages.stream(**params()) as stream:
            texts = stream.text_stream.__aiter__()
            while True:
                async with asyncio.timeout(0.5):
                    received.append(await texts.__anext__())

    assert "".join(received) == "partial text"
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    assert not port_is_open(port)


@pytest.mark.asyncio
async def test_stall_ends_properly_after_its_seconds(fake: FakeAnthropic) -> None:
    fake.enqueue(Stall("slow", seconds=0.3))
    started = time.monotonic()

    async with sdk_client(fake).messages.stream(**params()) as stream:
        message = await stream.get_final_message()

    assert time.monotonic() - started >= 0.3
    assert message.content[0].text == "slow" and message.stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_sse_error_raises_api_status_error(fake: FakeAnthropic) -> None:
    fake.enqueue(SSEError("so far so", error_type="overloaded_error", message="Overloaded"))
    received: list[str] = []

    with pytest.raises(anthropic.APIStatusError) as caught:
        async with sdk_client(fake, max_retries=2).messages.stream(**params()) as stream:
            async for text in stream.text_stream:
                received.append(text)

    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert caught.value.request_id == fake.replies[-1].request_id
    assert "".join(received) == "so far so"
    assert len(fake.requests) == 1


@pytest.mark.asyncio
async def test_prompt_caching_simulation(fake: FakeAnthropic) -> None:
    client = sdk_client(fake)
    system = [
        {
            "type": "text",
            "text": "You are a helpful assistant. " * 50,
            "cache_control": {"type": "ephemeral"},
        }
    ]

    first = await client.messages.create(**params("first question"), system=system)
    async with client.messages.stream(**params("second question"), system=system) as stream:
        second = await stream.get_final_message()

    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert first.usage.input_tokens > 0  # the user message after the breakpoint

    # A later breakpoint reads the cached system prefix and writes only the new part.
    history = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "next", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    third = await client.messages.create(model=MODEL, max_tokens=10, system=system, messages=history)
    assert third.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert third.usage.cache_creation_input_tokens > 0
    assert third.usage.input_tokens == 0

    # No cache_control anywhere: no cache activity, all tokens are input tokens.
    plain = await client.messages.create(**params("x" * 40), system="plain system")
    assert plain.usage.cache_creation_input_tokens == 0 and plain.usage.cache_read_input_tokens == 0
    assert plain.usage.input_tokens == 13  # ceil((12 + 40) / 4)

    fake.reset()
    again = await client.messages.create(**params("first question"), system=system)
    assert again.usage.cache_read_input_tokens == 0
    assert again.usage.cache_creation_input_tokens == first.usage.cache_creation_input_tokens


@pytest.mark.asyncio
async def test_tokens_per_second_paces_deltas(fake: FakeAnthropic) -> None:
    chunks = [f"t{i} " for i in range(10)]
    fake.enqueue(Reply(chunks=chunks, tokens_per_second=100))
    started = time.monotonic()

    async with sdk_client(fake).messages.stream(**params()) as stream:
        received = [text async for text in stream.text_stream]

    assert time.monotonic() - started >= 0.09
    assert received == chunks
    log = fake.replies[-1]
    assert len(log.delta_times) == 10
    assert log.delta_times[-1] - log.delta_times[0] >= 0.085
    assert log.first_delta_at == log.delta_times[0]


@pytest.mark.asyncio
async def test_first_delay_and_server_default_pace() -> None:
    with FakeAnthropic(default_tokens_per_second=50) as fake:
        fake.enqueue(Reply("a b c", first_delay=0.2))
        async with sdk_client(fake).messages.stream(**params()) as stream:
            await stream.get_final_message()

    log = fake.replies[-1]
    assert log.first_delta_at is not None
    assert log.first_delta_at - fake.requests[-1].at >= 0.2
    assert log.delta_times[-1] - log.delta_times[0] >= 0.035  # two gaps at 50 tokens/s


@pytest.mark.asyncio
async def test_default_echo_reply(fake: FakeAnthropic) -> None:
    client = sdk_client(fake)

    whole = await client.messages.create(**params("plain string"))
    assert whole.content[0].text == "Echo: plain string"

    messages = [
        {"role": "user", "content": "older"},
        {"role": "assistant", "content": "reply"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "first"},
                {"type": "text", "text": "last block"},
            ],
        },
    ]
    async with client.messages.stream(model=MODEL, max_tokens=10, messages=messages) as stream:
        streamed = await stream.get_final_message()
    assert streamed.content[0].text == "Echo: last block"


@pytest.mark.asyncio
async def test_count_tokens_and_models(fake: FakeAnthropic) -> None:
    client = sdk_client(fake)

    counted = await client.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "x" * 40}]
    )
    assert counted.input_tokens == 10

    models = [model async for model in client.models.list()]
    assert models[0].id == "claude-sonnet-4-6" and models[0].display_name == "Claude Sonnet 4.6"
    assert [r.path for r in fake.requests] == [
        "/v1/messages/count_tokens",
        "/v1/models",
    ]
    assert fake.message_requests == []


@pytest.mark.asyncio
async def test_raw_wire_format_with_pings(fake: FakeAnthropic) -> None:
    fake.enqueue(Reply("a b c d", ping_every=2))

    async with (
        httpx2.AsyncClient(base_url=fake.base_url) as http,
        http.stream("POST", "/v1/messages", json=params(stream=True)) as response,
    ):
        raw = b"".join([chunk async for chunk in response.aiter_raw()]).decode()

    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["request-id"].startswith("req_")
    blocks = raw.strip("\n").split("\n\n")
    names = [block.split("\n")[0].removeprefix("event: ") for block in blocks]
    assert names == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 2,
        "ping",
        *["content_block_delta"] * 2,
        "ping",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert blocks[-1] == 'event: message_stop\ndata: {"type":"message_stop"}'


def test_server_shuts_down_after_with_block() -> None:
    with FakeAnthropic() as fake:
        port = int(fake.base_url.rsplit(":", 1)[1])
        assert fake.base_url == f"http://127.0.0.1:{port}"
        assert port_is_open(port)
    assert not port_is_open(port)
    with pytest.raises(RuntimeError):
        _ = fake.base_url


def test_sync_client_and_start_stop_without_with() -> None:
    fake = FakeAnthropic().start()
    try:
        fake.enqueue(Reply("sync works"))
        client = anthropic.Anthropic(base_url=fake.base_url, api_key="test", max_retries=0)
        with client.messages.stream(**params()) as stream:
            assert stream.get_final_message().content[0].text == "sync works"
    finally:
        fake.stop()
