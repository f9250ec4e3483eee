"""Attachments through the Files API (conversations/attachment_files.py), against the fake API:
uploaded once, referenced by file_id, uploaded again when the API lost them, base64 where there
is no Files API or it fails, and deleted from the API with their attachment."""

import asyncio
import io
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import call_command
from PIL import Image

from conversations import services
from conversations.claude import attachment_files, llm
from conversations.claude.capabilities import uses_files_api
from conversations.library import organising
from conversations.models import Attachment, Conversation, RemoteFileDeletion
from conversations.reply.anthropic_request import count_breakpoints
from fakes import HttpError, Reply
from tests.helpers import image_bytes, pdf_bytes, run_to_end, send

EPHEMERAL = {"type": "ephemeral"}


def photo_bytes(width: int = 1568, height: int = 1176, noise: int = 45) -> bytes:
    """A noisy JPEG: compresses about as badly as a real photo (about 1 MB once re-encoded)."""
    out = io.BytesIO()
    Image.effect_noise((width, height), noise).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


async def chat_with_files(user, *files: tuple[str, bytes], text: str = "What is this?"):
    stored = [await sync_to_async(services.attachment_store)(user=user, name=n, data=d) for n, d in files]
    conversation, reply = await sync_to_async(services.conversation_start)(
        user=user, text=text, model="claude-sonnet-4-6", attachments=stored
    )
    return conversation, await run_to_end(reply), stored


def uploads(fake) -> list:
    return [r for r in fake.requests if r.path == "/v1/files"]


def file_block(kind: str, file_id: str, **extra) -> dict:
    return {"type": kind, "source": {"type": "file", "file_id": file_id}, **extra}


def without_cache_control(messages: list[dict]) -> list[dict]:
    return [
        {**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}
        for m in messages
    ]


@pytest.mark.django_db(transaction=True)
async def test_files_upload_once_on_first_use_and_every_turn_references_them(fake_api, media, alice):
    fake_api.enqueue(Reply("A photo and a form."), Reply("Still a photo."), Reply("Yes."))
    conversation, first, (image, pdf) = await chat_with_files(
        alice, ("cat.png", image_bytes(300, 200)), ("form.pdf", pdf_bytes())
    )
    await send(conversation, "Are you sure?")
    await send(conversation, "Thanks")

    image, pdf = [await Attachment.objects.aget(pk=a.pk) for a in (image, pdf)]
    assert image.file_id.startswith("file_") and pdf.file_id.startswith("file_")
    assert [u.body for u in uploads(fake_api)] == [
        {"filename": "cat.png", "mime_type": "image/png", "size_bytes": image.size},
        {"filename": "form.pdf", "mime_type": "application/pdf", "size_bytes": pdf.size},
    ]
    assert fake_api.files.stored[image.file_id].data == (media / image.storage_key).read_bytes()
    first_turn = [
        file_block("image", image.file_id),
        file_block("document", pdf.file_id, title="form.pdf", citations={"enabled": True}),
        {"type": "text", "text": "What is this?"},
    ]
    requests = [r.body for r in fake_api.message_requests]
    assert requests[0]["messages"] == [
        {"role": "user", "content": [*first_turn[:2], {**first_turn[2], "cache_control": EPHEMERAL}]}
    ]
    assert requests[2]["messages"] == [
        {"role": "user", "content": first_turn},
        {"role": "assistant", "content": [{"type": "text", "text": "A photo and a form."}]},
        {"role": "user", "content": [{"type": "text", "text": "Are you sure?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Still a photo."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks", "cache_control": EPHEMERAL}]},
    ]
    assert "base64" not in json.dumps(requests)
    assert first.status == "complete"


@pytest.mark.django_db(transaction=True)
async def test_the_cached_prefix_stays_byte_identical_across_turns_with_file_blocks(fake_api, media, alice):
    # An image-only message: the rolling breakpoint sits on the file block itself on turn 1.
    conversation, _, (image,) = await chat_with_files(alice, ("cat.png", image_bytes()), text="")
    for n in range(2, 5):
        await send(conversation, f"Question {n}")

    image = await Attachment.objects.aget(pk=image.pk)
    requests = [r.body for r in fake_api.message_requests]
    assert requests[0]["messages"][0]["content"] == [
        file_block("image", image.file_id, cache_control=EPHEMERAL)
    ]
    for before, after in zip(requests, requests[1:], strict=False):
        prefix = without_cache_control(before["messages"])
        # What turn N sent is, byte for byte, the start of what turn N+1 sends.
        shared = without_cache_control(after["messages"][: len(prefix)])
        assert json.dumps(shared, sort_keys=True) == json.dumps(prefix, sort_keys=True)
        assert count_breakpoints(after) == 1 and "cache_control" in after["messages"][-1]["content"][-1]
    assert len(uploads(fake_api)) == 1


@pytest.mark.django_db(transaction=True)
async def test_an_expired_or_missing_file_is_uploaded_again_once_and_the_request_retried(
    fake_api, media, alice
):
    conversation, _, (image,) = await chat_with_files(alice, ("cat.png", image_bytes()))
    old = (await Attachment.objects.aget(pk=image.pk)).file_id
    fake_api.files.expire(old)
    fake_api.enqueue(Reply("Seen again."))

    reply = await send(conversation, "And now?")

    new = (await Attachment.objects.aget(pk=image.pk)).file_id
    assert reply.status == "complete" and new != old and len(uploads(fake_api)) == 2
    refused, retried = [r.body for r in fake_api.message_requests[-2:]]
    assert refused["messages"][0]["content"][0] == file_block("image", old)
    assert retried["messages"][0]["content"][0] == file_block("image", new)
    assert retried["messages"][1:] == refused["messages"][1:]
    # The lost file is queued for deletion too, in case the API still had it after all.
    assert [r.file_id async for r in RemoteFileDeletion.objects.all()] == [old]

    del fake_api.files.stored[new]  # missing rather than expired: the same
    assert (await send(conversation, "Once more")).status == "complete"
    assert len(uploads(fake_api)) == 3


@pytest.mark.django_db(transaction=True)
async def test_when_the_upload_again_fails_the_retry_sends_base64(fake_api, media, alice, settings):
    settings.CHAT_API_MAX_RETRIES = 0
    conversation, _, (image,) = await chat_with_files(alice, ("cat.png", image_bytes()))
    fake_api.files.expire((await Attachment.objects.aget(pk=image.pk)).file_id)
    fake_api.files.fail_uploads = 503

    reply = await send(conversation, "And now?")

    assert reply.status == "complete"
    refused, retried = [r.body["messages"][0]["content"][0]["source"] for r in fake_api.message_requests[-2:]]
    assert refused["type"] == "file" and retried["type"] == "base64"
    assert (await Attachment.objects.aget(pk=image.pk)).file_id == ""  # uploaded again next time


@pytest.mark.django_db(transaction=True)
async def test_a_second_refusal_after_the_upload_again_is_reported_not_retried(fake_api, media, alice):
    conversation, _, _ = await chat_with_files(alice, ("cat.png", image_bytes()))
    fake_api.enqueue(
        HttpError(404, message="model: gone", request_id="req_first"),
        HttpError(404, message="model: gone", request_id="req_second"),
        Reply("not reached"),
    )
    reply = await send(conversation, "Hello?")
    assert reply.status == "error" and reply.request_id == "req_second"
    assert len(fake_api.message_requests) == 3 and len(uploads(fake_api)) == 2


@pytest.mark.django_db(transaction=True)
async def test_a_files_api_failure_sends_base64_for_that_reply_and_logs_once(
    fake_api, media, alice, settings, caplog
):
    settings.CHAT_API_MAX_RETRIES = 0
    fake_api.files.fail_uploads = 503
    with caplog.at_level(logging.WARNING, logger="conversations.claude.attachment_files"):
        conversation, reply, (image, pdf) = await chat_with_files(
            alice, ("cat.png", image_bytes()), ("form.pdf", pdf_bytes())
        )
    assert reply.status == "complete"
    [warning] = [r for r in caplog.records if r.name == "conversations.claude.attachment_files"]
    assert "Files API failed" in warning.getMessage()
    content = fake_api.message_requests[-1].body["messages"][0]["content"]
    assert [b["source"]["type"] for b in content[:2]] == ["base64", "base64"]
    assert len(uploads(fake_api)) == 1  # it gave up at the first failure

    fake_api.files.fail_uploads = None  # the next reply tries again
    await send(conversation, "Again")
    content = fake_api.message_requests[-1].body["messages"][0]["content"]
    assert [b["source"]["type"] for b in content[:2]] == ["file", "file"]


@pytest.mark.django_db(transaction=True)
async def test_an_endpoint_without_the_files_api_and_the_local_model_keep_base64(
    fake_api, media, alice, settings
):
    settings.CHAT_FILES_API = False
    await chat_with_files(alice, ("cat.png", image_bytes()))
    assert uploads(fake_api) == []
    assert fake_api.message_requests[-1].body["messages"][0]["content"][0]["source"]["type"] == "base64"

    settings.CHAT_FILES_API = True
    assert uses_files_api("claude-sonnet-4-6")
    settings.CHAT_USE_LOCAL_MODEL = True
    assert not uses_files_api("claude-sonnet-4-6")
    assert not uses_files_api(settings.CHAT_LOCAL_MODEL_NAME)


async def five_turns_about_a_photo(user, fake, data: bytes) -> tuple[Attachment, list[int]]:
    """The bytes on the wire (Content-Length) of each of five turns' requests."""
    conversation, _, (photo,) = await chat_with_files(user, ("photo.jpg", data))
    for n in range(2, 6):
        await send(conversation, f"What else do you see? ({n})")
    return photo, [int(r.headers["content-length"]) for r in fake.message_requests]


@pytest.mark.django_db(transaction=True)
async def test_turn_five_about_a_1_mb_photo_sends_kilobytes_instead_of_the_photo(
    fake_api, media, alice, bob, settings
):
    data = photo_bytes()
    settings.CHAT_FILES_API = False
    photo, before = await five_turns_about_a_photo(alice, fake_api, data)
    settings.CHAT_FILES_API = True
    fake_api.reset()
    _, after = await five_turns_about_a_photo(bob, fake_api, data)
    [upload] = [int(r.headers["content-length"]) for r in uploads(fake_api)]

    assert 0.9e6 < photo.size < 1.1e6
    assert before[4] > photo.size * 4 / 3 and after[4] < 2_000
    assert photo.size < upload < photo.size + 1_000
    print(
        f"\nturn 5 of a chat about a {photo.size:,}-byte photo: {before[4]:,} request bytes with base64, "
        f"{after[4]:,} by file_id; five turns: {sum(before):,} bytes before, "
        f"{sum(after) + upload:,} after (one upload of {upload:,} included)"
    )


# --- deleting ------------------------------------------------------------------------------------


async def remote_ids(fake) -> set[str]:
    return set(fake.files.stored)


@pytest.mark.django_db(transaction=True)
async def test_purging_a_deleted_conversation_deletes_its_files_from_the_api(fake_api, media, alice):
    conversation, _, (only_here, shared) = await chat_with_files(
        alice, ("cat.png", image_bytes(30, 30)), ("form.pdf", pdf_bytes())
    )
    await chat_with_files(alice, ("form.pdf", pdf_bytes()))  # the PDF is used elsewhere too
    only_here, shared = [await Attachment.objects.aget(pk=a.pk) for a in (only_here, shared)]
    assert await remote_ids(fake_api) == {only_here.file_id, shared.file_id}

    await sync_to_async(organising.conversation_trash)(conversation=conversation)
    await Conversation.objects.filter(pk=conversation.pk).aupdate(deleted_at="2020-01-01T00:00:00Z")
    assert await sync_to_async(organising.deleted_conversations_purge)() == 1
    assert await attachment_files.remote_deletions_run() == 1

    assert fake_api.files.deleted == [only_here.file_id]
    assert await remote_ids(fake_api) == {shared.file_id}
    assert not (media / only_here.storage_key).exists()
    assert await RemoteFileDeletion.objects.acount() == 0


@pytest.mark.django_db(transaction=True)
async def test_deleting_a_user_or_an_attachment_deletes_the_remote_files(fake_api, media, alice, bob):
    _, _, (mine,) = await chat_with_files(alice, ("a.png", image_bytes(20, 20)))
    _, _, (theirs,) = await chat_with_files(bob, ("b.png", image_bytes(21, 21)))
    mine, theirs = [await Attachment.objects.aget(pk=a.pk) for a in (mine, theirs)]

    await get_user_model().objects.filter(pk=alice.pk).adelete()
    # The command runs its own event loop, as from a shell: also drains the queue.
    await asyncio.to_thread(call_command, "purge_deleted", verbosity=0)
    assert await remote_ids(fake_api) == {theirs.file_id}
    assert fake_api.files.deleted == [mine.file_id]
    assert not (media / mine.storage_key).exists() and (media / theirs.storage_key).exists()

    await theirs.adelete()
    assert await attachment_files.remote_deletions_run() == 1
    assert await remote_ids(fake_api) == set() and fake_api.files.deleted == [mine.file_id, theirs.file_id]


@pytest.mark.django_db(transaction=True)
async def test_a_failing_delete_stays_queued_and_one_already_gone_counts_as_deleted(
    fake_api, media, alice, settings, caplog
):
    settings.CHAT_API_MAX_RETRIES = 0
    await RemoteFileDeletion.objects.acreate(file_id="file_never_existed")
    assert await attachment_files.remote_deletions_run() == 1  # a 404: it is gone already

    await RemoteFileDeletion.objects.acreate(file_id="file_a")
    await RemoteFileDeletion.objects.acreate(file_id="file_b")
    original = llm.delete_file

    async def failing(file_id):
        raise llm.anthropic.APIConnectionError(request=None)

    llm.delete_file = failing
    try:
        with caplog.at_level(logging.WARNING, logger="conversations.claude.attachment_files"):
            assert await attachment_files.remote_deletions_run() == 0
    finally:
        llm.delete_file = original
    rows = [(r.file_id, r.attempts) async for r in RemoteFileDeletion.objects.order_by("pk")]
    assert rows == [("file_a", 1), ("file_b", 0)]  # stopped at the first failure
    assert len([r for r in caplog.records if "deleting file" in r.getMessage()]) == 1


@pytest.mark.django_db
def test_a_file_id_stored_by_another_reply_first_wins_and_the_copy_is_queued(media, alice):
    attachment = services.attachment_store(user=alice, name="a.png", data=image_bytes())
    attachment_files._store_file_id(attachment.pk, "file_first")
    attachment_files._store_file_id(attachment.pk, "file_second")
    assert Attachment.objects.get(pk=attachment.pk).file_id == "file_first"
    assert list(RemoteFileDeletion.objects.values_list("file_id", flat=True)) == ["file_second"]
