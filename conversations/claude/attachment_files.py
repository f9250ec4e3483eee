"""Attachments in the endpoint's Files API: uploaded once, referenced by file_id, deleted with them.

Where `capabilities.uses_files_api` says so (a Claude endpoint with the Files API; never the
embedded model), a reply first uploads the attachments its history refers to that have no file_id
yet, stores each file_id on its Attachment, and its requests reference the files as
`{"type": "file", "file_id": ...}` sources instead of sending the bytes again every turn.

- A request the API refuses because one of its files is gone (a 404; the SDK's FileExpiredError
  is one) has those files uploaded again, once, and is sent again.
- Any other Files API failure: that reply's requests carry the files as base64, and one warning
  is logged for the reply.
- When an Attachment row is deleted, by whatever path (its conversation purged, its owner
  deleted, the admin), its file_id is queued as a RemoteFileDeletion in the same transaction; each
  worker's sweep (and `manage.py purge_deleted`) deletes the queued files from the API. Its file
  in our storage is removed when the delete commits.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete
from django.dispatch import receiver

from conversations import storage
from conversations.claude import llm
from conversations.claude.capabilities import uses_files_api
from conversations.models import Attachment, ContentBlock, Message, ProjectFile, RemoteFileDeletion
from conversations.projects import knowledge

log = logging.getLogger(__name__)

DELETE_BATCH = 100


class ReplyFiles:
    """The Files API side of one reply's requests: whether they go by file_id, and the uploads."""

    def __init__(self, model: str) -> None:
        self.by_file_id = uses_files_api(model)
        self.reuploaded = False
        self.to_upload: list[Attachment | ProjectFile] = []

    def pending(self, reply: Message) -> bool:
        """Whether attachments the reply's history refers to, or its project's knowledge files, have
        no file_id yet (a query each; called in the thread hop that loads the reply)."""
        pending = _not_uploaded(reply) + knowledge.not_uploaded(reply.conversation) if self.by_file_id else []
        self.to_upload = pending
        return bool(self.to_upload)

    async def upload_pending(self) -> None:
        """Upload them, storing each file_id."""
        try:
            for attachment in self.to_upload:
                await upload(attachment)
        except llm.FILE_ERRORS as exc:
            self._fall_back(exc)
        self.to_upload = []

    async def open_stream(self, request: dict, rebuild: Callable[[], Awaitable[dict]]):
        """llm.open_stream; when the API no longer has one of the request's files, upload the
        request's files again (once per reply) and send the rebuilt request."""
        try:
            return await llm.open_stream(request)
        except llm.STREAM_ERRORS as exc:
            ids = file_ids_of(request)
            if self.reuploaded or not llm.is_missing_file(exc, ids):
                raise
        self.reuploaded = True
        log.warning("the API no longer has %d file(s) of this request; uploading them again", len(ids))
        try:
            for attachment in await sync_to_async(_forget)(ids):
                await upload(attachment)
        except llm.FILE_ERRORS as exc:
            self._fall_back(exc)
        return await llm.open_stream(await rebuild())

    def _fall_back(self, exc: BaseException) -> None:
        self.by_file_id = False
        error, request_id = llm.describe_error(exc)
        log.warning("Files API failed, files go as base64 in this reply: %s (request %s)", error, request_id)


def file_ids_of(request: dict) -> set[str]:
    """The file_ids a request's messages reference."""
    return {
        source["file_id"]
        for message in request.get("messages", [])
        for block in message["content"]
        if isinstance(source := block.get("source"), dict) and source.get("type") == "file"
    }


async def upload(attachment: Attachment | ProjectFile) -> str:
    """Upload one attachment (or a project's knowledge file) and store its file_id. Two replies
    uploading the same file at once: the first stored wins, and the other copy is queued for deletion."""
    data = await asyncio.to_thread(storage.read, attachment.storage_key)
    file_id = await llm.upload_file(attachment.name, data, attachment.media_type)
    await sync_to_async(_store_file_id)(attachment.pk, file_id, type(attachment))
    attachment.file_id = file_id
    return file_id


def _store_file_id(row_id: int, file_id: str, model: type[Attachment | ProjectFile] = Attachment) -> None:
    if not model.objects.filter(pk=row_id, file_id="").update(file_id=file_id):
        RemoteFileDeletion.objects.create(file_id=file_id)


def _not_uploaded(reply: Message) -> list[Attachment]:
    """The conversation's images and PDFs without a file_id (any branch's: one query, usually
    empty, rather than walking the reply's branch on every send). Text files (at most 1 MB) stay
    inline as a text source."""
    blocks = ContentBlock.objects.filter(
        message__conversation_id=reply.conversation_id, type__in=["image", "document"]
    )
    ids = {int(i) for i in blocks.values_list("payload__attachment_id", flat=True) if i is not None}
    if not ids:
        return []
    found = Attachment.objects.filter(pk__in=ids, file_id="").exclude(media_type="text/plain")
    return list(found.order_by("pk"))


def _forget(file_ids: set[str]) -> list[Attachment | ProjectFile]:
    """The attachments and knowledge files with these file_ids, their file_ids cleared (and queued
    for deletion, in case the API still has them after all)."""
    attachments: list[Attachment | ProjectFile] = []
    for model in (Attachment, ProjectFile):
        rows = list(model.objects.filter(file_id__in=file_ids).order_by("pk"))
        model.objects.filter(pk__in=[a.pk for a in rows]).update(file_id="")
        attachments += rows
    RemoteFileDeletion.objects.bulk_create([RemoteFileDeletion(file_id=a.file_id) for a in attachments])
    for attachment in attachments:
        attachment.file_id = ""
    return attachments


@receiver(post_delete, sender=Attachment, dispatch_uid="attachment_remote_file")
@receiver(post_delete, sender=ProjectFile, dispatch_uid="project_file_remote_file")
def _attachment_deleted(sender, instance: Attachment | ProjectFile, **kwargs) -> None:
    """Queue its remote file for deletion; remove its stored file once the delete commits (a
    user's deletion, or a project's, cascades here too)."""
    if instance.file_id:
        RemoteFileDeletion.objects.create(file_id=instance.file_id)
    key = instance.storage_key
    transaction.on_commit(lambda: storage.delete(key))


async def remote_deletions_run() -> int:
    """Delete queued files from the Files API; how many went. Stops at the first failure (one
    warning), leaving the rest for the next sweep. Nothing to do against the embedded model."""
    if settings.CHAT_USE_LOCAL_MODEL:
        return 0
    pending = await sync_to_async(list)(RemoteFileDeletion.objects.order_by("pk")[:DELETE_BATCH])
    deleted: list[int] = []
    for row in pending:
        try:
            await llm.delete_file(row.file_id)
        except llm.FILE_ERRORS as exc:
            error, request_id = llm.describe_error(exc)
            log.warning(
                "deleting file %s from the Files API failed: %s (request %s)", row.file_id, error, request_id
            )
            await sync_to_async(_count_attempt)(row.pk)
            break
        deleted.append(row.pk)
    if deleted:
        await sync_to_async(_forget_deleted)(deleted)
    return len(deleted)


def _count_attempt(row_id: int) -> None:
    RemoteFileDeletion.objects.filter(pk=row_id).update(attempts=F("attempts") + 1)


def _forget_deleted(row_ids: list[int]) -> None:
    RemoteFileDeletion.objects.filter(pk__in=row_ids).delete()
