"""Writes. Views and the generator call these; each runs in one transaction."""

import hashlib
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from usage.budgets import BudgetExceeded, check_can_send

from . import attachments as files
from . import params as chat_params
from .capabilities import capabilities, reads_files
from .models import Attachment, ContentBlock, Conversation, Message
from .rendering import render_markdown

TITLE_LENGTH = 60


class ChatError(Exception):
    """A request the user made that cannot be done; the message is shown to them."""


class ReplyInProgress(ChatError):
    def __init__(self) -> None:
        super().__init__("A reply is still streaming in this conversation. Wait for it or press Stop.")


def check_message_text(text: str, *, attachments: list[Attachment] = ()) -> str:
    text = text.strip()
    if not text and not attachments:
        raise ChatError("Type a message first.")
    limit = settings.CHAT_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise ChatError(f"The message is {len(text):,} characters long; the limit is {limit:,}.")
    return text


def title_from_text(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[:TITLE_LENGTH].rsplit(" ", 1)[0] or line[:TITLE_LENGTH]
    return cut + "…"


def _check_attachments(model: str, attachments: list[Attachment]) -> None:
    if len(attachments) > files.MAX_FILES_PER_MESSAGE:
        raise ChatError(f"A message can carry at most {files.MAX_FILES_PER_MESSAGE} files.")
    if attachments and not reads_files(model):
        raise ChatError(
            f"The model {model} cannot read images or PDFs. Remove the files, or use a Claude model."
        )


def conversation_start(
    *,
    user,
    text: str,
    model: str,
    prompt_version=None,
    attachments: list[Attachment] = (),
    timezone: str = "",
) -> tuple[Conversation, Message]:
    """A new conversation (pinned to `prompt_version`, if any), its first message and a streaming reply."""
    text = check_message_text(text, attachments=attachments)
    _check_attachments(model, attachments)
    title = title_from_text(text or ", ".join(a.name for a in attachments))
    with transaction.atomic():
        conversation = Conversation.objects.create(
            owner=user,
            model=model,
            title=title,
            prompt_version=prompt_version,
            params={"timezone": timezone} if timezone in chat_params.ZONES else {},
        )
        _, reply = _add_turn(conversation, text, attachments)
    return conversation, reply


def message_send(
    *, conversation: Conversation, text: str, attachments: list[Attachment] = ()
) -> tuple[Message, Message]:
    """The user's message and a streaming reply to it, committed together."""
    text = check_message_text(text, attachments=attachments)
    _check_attachments(conversation.model, attachments)
    try:
        with transaction.atomic():
            turn = _add_turn(conversation, text, attachments)
            Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    except IntegrityError as exc:
        raise ReplyInProgress() from exc
    return turn


def _check_budget(conversation: Conversation) -> None:
    version = conversation.prompt_version
    try:
        check_can_send(user=conversation.owner, team_id=version.prompt.team_id if version else None)
    except BudgetExceeded as exc:
        raise ChatError(str(exc)) from exc


def _add_turn(
    conversation: Conversation, text: str, attachments: list[Attachment] = ()
) -> tuple[Message, Message]:
    """Files first, then the text: the order the API recommends for questions about them."""
    _check_budget(conversation)
    user_message = Message.objects.create(conversation=conversation, role=Message.Role.USER)
    payloads = [
        {
            "type": "image" if a.is_image else "document",
            "attachment_id": a.pk,
            "name": a.name,
            "pages": a.pages,
        }
        for a in attachments
    ]
    if text:
        payloads.append({"type": "text", "text": text})
    ContentBlock.objects.bulk_create(
        ContentBlock(message=user_message, index=i, type=p["type"], payload=p) for i, p in enumerate(payloads)
    )
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model=conversation.model,
        heartbeat_at=timezone.now(),
    )
    return user_message, reply


def reply_retry(*, reply: Message) -> Message:
    """Run a failed, stopped or interrupted reply again, in place of its old partial output."""
    if reply.role != Message.Role.ASSISTANT or reply.is_streaming:
        raise ChatError("Only a finished reply can be retried.")
    if reply.conversation.messages.filter(id__gt=reply.id).exists():
        raise ChatError("Only the latest reply can be retried.")
    try:
        with transaction.atomic():
            _check_budget(reply.conversation)
            reply.blocks.all().delete()
            Message.objects.filter(pk=reply.pk).update(
                status=Message.Status.STREAMING,
                stop_reason="",
                request_id="",
                error="",
                input_tokens=0,
                output_tokens=0,
                cache_creation_input_tokens=0,
                cache_read_input_tokens=0,
                trimmed=0,
                model=reply.conversation.model,
                heartbeat_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise ReplyInProgress() from exc
    reply.refresh_from_db()
    return reply


def _latest(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.filter(superseded=False).order_by("-id")[:2])


def reply_regenerate(*, reply: Message) -> Message:
    """A new reply to the same question; the old one stays visible as a previous version."""
    conversation = reply.conversation
    latest = _latest(conversation)
    if not latest or latest[0].pk != reply.pk or reply.role != Message.Role.ASSISTANT or reply.is_streaming:
        raise ChatError("Only the latest finished reply can be regenerated.")
    try:
        with transaction.atomic():
            _check_budget(conversation)
            Message.objects.filter(pk=reply.pk).update(superseded=True)
            return Message.objects.create(
                conversation=conversation,
                role=Message.Role.ASSISTANT,
                status=Message.Status.STREAMING,
                model=conversation.model,
                heartbeat_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise ReplyInProgress() from exc


def message_edit(*, message: Message, text: str) -> tuple[Message, Message]:
    """Replace the latest question (and its reply) with an edited one, and answer it."""
    conversation = message.conversation
    latest = _latest(conversation)
    answered = len(latest) == 2 and latest[1].pk == message.pk and not latest[0].is_streaming
    if message.role != Message.Role.USER or not answered:
        raise ChatError("Only the latest message can be edited, once its reply has finished.")
    text = check_message_text(text)
    with transaction.atomic():
        Message.objects.filter(pk__in=[message.pk, latest[0].pk]).update(superseded=True)
        attachments = [
            Attachment.objects.get(pk=b.payload["attachment_id"], owner=conversation.owner)
            for b in message.blocks.all()
            if "attachment_id" in b.payload
        ]
        return _add_turn(conversation, text, attachments)


def reply_continue(*, reply: Message) -> Message:
    """Resume a reply that hit max_tokens: the same message streams on after its last block."""
    if reply.stop_reason != "max_tokens" or reply.status != Message.Status.COMPLETE:
        raise ChatError("Only a reply that was cut off at its length limit can be continued.")
    if reply.conversation.messages.filter(id__gt=reply.id).exists():
        raise ChatError("Only the latest reply can be continued.")
    try:
        with transaction.atomic():
            _check_budget(reply.conversation)
            Message.objects.filter(pk=reply.pk).update(
                status=Message.Status.STREAMING, stop_reason="", heartbeat_at=timezone.now()
            )
    except IntegrityError as exc:
        raise ReplyInProgress() from exc
    reply.refresh_from_db()
    return reply


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join(title.split())[:200]
    if not title:
        raise ChatError("A title cannot be empty.")
    conversation.title = title
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_configure(*, conversation: Conversation, model: str, params: dict) -> Conversation:
    """Change the model and parameters; they apply from the next turn. ChatError lists what is wrong."""
    parsed, errors = chat_params.parse(
        {"timezone": (conversation.params or {}).get("timezone", "UTC"), **params}, capabilities(model)
    )
    if errors:
        raise ChatError(" ".join(errors))
    conversation.model = model
    conversation.params = parsed.model_dump(exclude_defaults=True)
    conversation.save(update_fields=["model", "params", "updated_at"])
    return conversation


def conversation_switch_prompt(*, conversation: Conversation, version) -> None:
    """Pin the conversation to another prompt version; only ever on the user's explicit request."""
    conversation.prompt_version = version
    conversation.save(update_fields=["prompt_version", "updated_at"])


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


# --- persistence of a streaming reply (called by generation.py) ---------------------------


def block_save(*, message_id: int, index: int, payload: dict) -> str:
    """Store one content block (insert, or replace a checkpointed partial). Returns its HTML."""
    rendered = render_markdown(payload["text"]) if payload["type"] == "text" else ""
    with transaction.atomic():
        _put_block(message_id, index, payload, rendered=rendered)
    return rendered


def _put_block(message_id: int, index: int, payload: dict, **extra) -> None:
    """One UPDATE, or an INSERT the first time (no SELECT first: this runs every checkpoint)."""
    fields = {"type": payload["type"], "payload": payload, **extra}
    if not ContentBlock.objects.filter(message_id=message_id, index=index).update(**fields):
        ContentBlock.objects.create(message_id=message_id, index=index, **fields)


def reply_checkpoint(*, message_id: int, index: int | None, payload: dict | None, worker: str) -> None:
    """Keep the open block's partial text and say this worker is still alive."""
    with transaction.atomic():
        if payload is not None and index is not None:
            _put_block(message_id, index, payload)
        Message.objects.filter(pk=message_id).update(heartbeat_at=timezone.now(), worker=worker)


def reply_finish(*, message_id: int, open_blocks: dict[int, dict], **fields) -> Message:
    """The final write: status, usage, stop reason; plus any block that never reached its stop."""
    with transaction.atomic():
        for index, payload in open_blocks.items():
            block_save(message_id=message_id, index=index, payload=payload)
        Message.objects.filter(pk=message_id).update(**fields)
    return Message.objects.select_related("conversation").get(pk=message_id)


def orphaned_replies_interrupt() -> int:
    """Replies left `streaming` by a process that died become `interrupted`; their text stays."""
    stale = timezone.now() - timedelta(seconds=settings.CHAT_ORPHAN_AFTER)
    return Message.objects.filter(status=Message.Status.STREAMING, heartbeat_at__lt=stale).update(
        status=Message.Status.INTERRUPTED,
        error="The server stopped while this reply was streaming.",
    )


def attachment_store(*, user, name: str, data: bytes) -> Attachment:
    """Check, re-encode and store an upload; the same content from the same user is stored once."""
    processed = files.process(name, data)
    digest = hashlib.sha256(processed.data).hexdigest()
    existing = Attachment.objects.filter(owner=user, sha256=digest).first()
    if existing is not None:
        return existing
    extension = processed.media_type.split("/")[1]
    key = f"attachments/{user.pk}/{digest[:2]}/{digest}.{extension}"
    path = Path(settings.MEDIA_ROOT) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(processed.data)
    try:
        with transaction.atomic():
            return Attachment.objects.create(
                owner=user,
                name=Path(name).name[:255] or "file",
                media_type=processed.media_type,
                size=len(processed.data),
                width=processed.width,
                height=processed.height,
                pages=processed.pages,
                sha256=digest,
                storage_key=key,
            )
    except IntegrityError:  # the same file uploaded twice at once
        return Attachment.objects.get(owner=user, sha256=digest)
