"""The fake's Files API (fakes/files.py), driven by the real anthropic SDK over a real socket."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types import DeletedFile, FileMetadata
from anthropic.types.file_expired_error import FileExpiredError

from fakes import FakeAnthropic, Reply
from tests.helpers import sdk_client

MODEL = "claude-sonnet-4-6"


def with_image(file_id: str) -> dict:
    content = [
        {"type": "image", "source": {"type": "file", "file_id": file_id}},
        {"type": "text", "text": "What is this?"},
    ]
    return {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": content}]}


@pytest.mark.asyncio
async def test_upload_retrieve_list_delete_round_trip(fake: FakeAnthropic) -> None:
    client = sdk_client(fake)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40

    uploaded = await client.files.upload(file=("dir/photo.png", png, "image/png"))
    assert isinstance(uploaded, FileMetadata)
    assert uploaded.id.startswith("file_") and uploaded.type == "file"
    assert (uploaded.filename, uploaded.mime_type, uploaded.size_bytes) == (
        "photo.png",
        "image/png",
        len(png),
    )
    assert fake.files.stored[uploaded.id].data == png
    upload_request = fake.requests[-1]
    assert upload_request.path == "/v1/files"
    assert upload_request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert "anthropic-beta" not in upload_request.headers  # the Files API is GA in this SDK

    again = await client.files.retrieve_metadata(uploaded.id)
    assert again == uploaded

    deleted = await client.files.delete(uploaded.id)
    assert isinstance(deleted, DeletedFile) and (deleted.id, deleted.type) == (uploaded.id, "file_deleted")
    assert fake.files.deleted == [uploaded.id]
    with pytest.raises(anthropic.NotFoundError):
        await client.files.retrieve_metadata(uploaded.id)
    with pytest.raises(anthropic.NotFoundError):
        await client.files.delete(uploaded.id)


@pytest.mark.asyncio
async def test_list_pages_through_every_file_and_filters_by_id(fake: FakeAnthropic) -> None:
    client = sdk_client(fake)
    ids = [(await client.files.upload(file=(f"{i}.txt", b"x" * i, "text/plain"))).id for i in range(1, 6)]

    first = await client.files.list(limit=2)
    assert [f.id for f in first.data] == ids[:2] and first.next_page
    assert [f.id async for f in client.files.list(limit=2)] == ids  # the SDK follows next_page
    only = await client.files.list(ids=[ids[3], ids[0], "file_unknown"])
    assert sorted(f.id for f in only.data) == sorted([ids[0], ids[3]]) and only.next_page is None


@pytest.mark.asyncio
async def test_messages_with_a_stored_file_stream_and_a_missing_or_expired_one_is_refused(fake) -> None:
    client = sdk_client(fake)
    file_id = (await client.files.upload(file=("a.png", b"\x89PNG...", "image/png"))).id
    fake.enqueue(Reply("A cat."))

    stream = await client.messages.create(**with_image(file_id), stream=True)
    text = "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
    assert text == "A cat."

    fake.enqueue(Reply("never sent"))
    with pytest.raises(anthropic.NotFoundError) as missing:
        await client.messages.create(**with_image("file_gone"), stream=True)
    assert "file_gone" in missing.value.message and not isinstance(missing.value, FileExpiredError)
    fake.files.expire(file_id)
    with pytest.raises(FileExpiredError) as expired:
        await client.messages.create(**with_image(file_id), stream=True)
    assert expired.value.error_code == "file_expired"
    with pytest.raises(FileExpiredError):
        await client.messages.count_tokens(model=MODEL, messages=with_image(file_id)["messages"])
    assert fake._queue[0] == Reply("never sent")  # a refused request uses no script


@pytest.mark.asyncio
async def test_failing_uploads_answer_the_status_asked_for(fake: FakeAnthropic) -> None:
    fake.files.fail_uploads = 503
    with pytest.raises(anthropic.InternalServerError) as failed:
        await sdk_client(fake).files.upload(file=("a.png", b"x", "image/png"))
    assert failed.value.status_code == 503 and fake.files.stored == {}
    fake.reset()
    assert (await sdk_client(fake).files.upload(file=("a.png", b"x", "image/png"))).size_bytes == 1
