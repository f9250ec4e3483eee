"""The fake's Message Batches API and structured outputs, read through the real SDK (2.12) and its
types: create, retrieve, list, cancel, delete and results (JSONL), a refused batch, and JSON that
fits the request's schema."""

import json

import anthropic
import pytest
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse

from fakes import FakeAnthropic, HttpError


@pytest.fixture
def fake(_fake_server: FakeAnthropic):
    _fake_server.reset()
    return _fake_server


def request(custom_id: str, text: str = "hi") -> dict:
    params = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": text}]}
    return {"custom_id": custom_id, "params": params}


async def test_a_batch_is_created_processed_cancelled_and_read_with_the_sdk_types(fake):
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="k", max_retries=0)
    fake.batches.hold = True
    fake.batches.fail("r-1", "errored", "bad params")
    created = await client.messages.batches.create(requests=[request(f"r-{i}", f"q{i}") for i in range(4)])
    assert isinstance(created, MessageBatch) and created.processing_status == "in_progress"
    assert created.request_counts.processing == 4 and created.results_url is None
    fake.batches.finish(created.id, count=2)
    assert (await client.messages.batches.retrieve(created.id)).processing_status == "in_progress"
    assert (await client.messages.batches.cancel(created.id)).processing_status == "canceling"
    ended = await client.messages.batches.retrieve(created.id)
    assert ended.processing_status == "ended" and ended.ended_at and ended.cancel_initiated_at
    assert ended.request_counts.model_dump() == {
        "canceled": 2,
        "errored": 1,
        "expired": 0,
        "processing": 0,
        "succeeded": 1,
    }
    lines = [line async for line in await client.messages.batches.results(created.id)]
    assert all(isinstance(line, MessageBatchIndividualResponse) for line in lines)
    by_id = {line.custom_id: line.result for line in lines}
    assert by_id["r-0"].type == "succeeded" and by_id["r-0"].message.content[0].text == "Echo: q0"
    assert by_id["r-0"].message.usage.input_tokens > 0
    assert by_id["r-1"].type == "errored" and by_id["r-1"].error.error.message == "bad params"
    assert (by_id["r-2"].type, by_id["r-3"].type) == ("canceled", "canceled")
    listed = await client.messages.batches.list(limit=5)
    assert [b.id for b in listed.data] == [created.id]
    assert (await client.messages.batches.delete(created.id)).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.batches.retrieve(created.id)


async def test_a_batch_the_api_refuses_raises_the_sdk_error(fake):
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="k", max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="duplicate custom_id"):
        await client.messages.batches.create(requests=[request("same"), request("same")])
    fake.batches.create_error = HttpError(413, message="too large")
    with pytest.raises(anthropic.RequestTooLargeError):
        await client.messages.batches.create(requests=[request("a")])


async def test_structured_output_requests_get_json_that_fits_the_schema(fake):
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="k", max_retries=0)
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
            "reason": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "ok": {"type": "boolean"},
        },
        "required": ["score", "reason", "tags", "ok"],
        "additionalProperties": False,
    }
    message = await client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "grade this"}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    data = json.loads(message.content[0].text)
    assert set(data) == {"score", "reason", "tags", "ok"}
    assert data["score"] in range(1, 6) and isinstance(data["reason"], str) and data["reason"]
    assert isinstance(data["tags"], list) and isinstance(data["ok"], bool)
