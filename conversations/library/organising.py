"""Writes that organise the sidebar: pin, archive, and delete with an Undo.

A delete only sets `deleted_at`: the conversation is hidden everywhere at once (`visible()`), and
Undo clears it. After UNDO_SECONDS it is purged for good, lazily: at the next delete, in each
process's periodic sweep (generation.py), or with `manage.py purge_deleted`. None of these changes
`updated_at`, so nothing moves between the sidebar's date groups.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations import storage
from conversations.models import (
    Attachment,
    ContentBlock,
    Conversation,
    Message,
    ProducedFile,
    ReplyFeedback,
    Share,
)

UNDO_SECONDS = 10
# An Undo pressed in the toast's last moment still arrives after the toast is gone.
UNDO_GRACE_SECONDS = 2
PURGE_BATCH = 200
FILE_BLOCKS = ["image", "document"]


def _set(conversation: Conversation, **fields) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    for name, value in fields.items():
        setattr(conversation, name, value)


def conversation_pin(*, conversation: Conversation, pinned: bool) -> None:
    _set(conversation, pinned_at=timezone.now() if pinned else None)


def conversation_archive(*, conversation: Conversation, archived: bool) -> None:
    _set(conversation, archived_at=timezone.now() if archived else None)


def conversation_trash(*, conversation: Conversation) -> None:
    """Hide it everywhere; it is purged after UNDO_SECONDS unless restored first."""
    _set(conversation, deleted_at=timezone.now())


def deleted_conversation_for_user(user, conversation_id: int) -> Conversation | None:
    """The user's conversation deleted recently enough to be restored, else None."""
    if not user.is_authenticated:
        return None
    since = timezone.now() - timedelta(seconds=UNDO_SECONDS + UNDO_GRACE_SECONDS)
    return Conversation.objects.filter(owner=user, pk=conversation_id, deleted_at__gte=since).first()


def conversation_restore(*, conversation: Conversation) -> None:
    _set(conversation, deleted_at=None)


def deleted_conversations_purge() -> int:
    """Delete for good the conversations deleted more than UNDO_SECONDS (plus the grace) ago, and
    the stored files that only they referred to. Returns how many conversations went."""
    cutoff = timezone.now() - timedelta(seconds=UNDO_SECONDS + UNDO_GRACE_SECONDS)
    purged = 0
    while True:
        with transaction.atomic():
            doomed = list(
                Conversation.objects.filter(deleted_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH]
            )
            if not doomed:
                return purged
            files = _attachment_ids(ContentBlock.objects.filter(message__conversation_id__in=doomed))
            # Their shares stay in the audit trail, revoked and without the snapshot.
            Share.objects.filter(conversation_id__in=doomed).update(
                snapshot={}, revoked_at=Coalesce("revoked_at", Value(timezone.now()))
            )
            Conversation.objects.filter(pk__in=doomed).delete()
            attachments_remove_unreferenced(files)
        purged += len(doomed)


def conversations_scrub(conversation_ids: list[int], *, before_files_deleted=None) -> set[int]:
    """In one short transaction: remove what people wrote and read in these conversations (titles,
    parameters, messages' content blocks, their own messages, their feedback on replies, stop
    sequences and error texts, files only they used, files code execution made (from the Files API
    too), the code execution container, the snapshots shared with teams), and keep the
    conversation rows (owner, prompt version) and each reply's row (date, model, tokens, cost) so
    usage totals and budgets still add up. Hidden everywhere after.
    `before_files_deleted(attachments)` sees the attachment rows about to go (remote copies).
    Returns the ids of the attachments deleted."""
    with transaction.atomic():
        blocks = ContentBlock.objects.filter(message__conversation_id__in=conversation_ids)
        files = _attachment_ids(blocks)
        blocks.delete()
        messages = Message.objects.filter(conversation_id__in=conversation_ids)
        messages.update(parent=None, stop_sequence="", error="")
        messages.filter(role=Message.Role.USER).delete()
        ReplyFeedback.objects.filter(message__conversation_id__in=conversation_ids).delete()
        ProducedFile.objects.filter(conversation_id__in=conversation_ids).delete()  # queues remote copies
        Conversation.objects.filter(pk__in=conversation_ids).update(
            title="", params={}, scrubbed_at=timezone.now(), pinned_at=None, container_id=None
        )
        # As for a purged conversation: its shares stay in the audit trail, revoked, snapshot dropped.
        Share.objects.filter(conversation_id__in=conversation_ids).update(
            snapshot={}, revoked_at=Coalesce("revoked_at", Value(timezone.now()))
        )
        return attachments_remove_unreferenced(files, before_delete=before_files_deleted)


def _attachment_ids(blocks) -> set[int]:
    ids = blocks.filter(type__in=FILE_BLOCKS).values_list("payload__attachment_id", flat=True)
    return {int(i) for i in ids if i is not None}


def attachments_remove_unreferenced(attachment_ids: set[int], before_delete=None) -> set[int]:
    """Delete these attachments, rows and files, unless a remaining content block refers to them.
    Returns the ids deleted."""
    if not attachment_ids:
        return set()
    still_used = _attachment_ids(ContentBlock.objects.filter(payload__attachment_id__in=list(attachment_ids)))
    orphans = Attachment.objects.filter(pk__in=attachment_ids - still_used)
    if before_delete is not None:
        before_delete(orphans)
    keys = list(orphans.values_list("storage_key", flat=True))
    deleted = set(orphans.values_list("pk", flat=True))
    orphans.delete()

    def remove_files() -> None:
        for key in keys:
            storage.delete(key)

    transaction.on_commit(remove_files)
    return deleted
