"""Writes. Views and the generator call these; each runs in one transaction."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from conversations import attachments as files
from conversations import selectors
from conversations.budgets import BudgetExceeded, check_can_send, spend_record
from conversations.claude import params as chat_params
from conversations.claude import pricing
from conversations.claude.capabilities import capabilities, reads_files
from conversations.live import metrics
from conversations.models import ApiCall, Attachment, ContentBlock, Conversation, Message
from conversations.rendering import render_markdown_blocks
from teams.models import PromptVersion

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
    user: AbstractBaseUser,
    text: str,
    model: str,
    prompt_version: PromptVersion | None = None,
    attachments: list[Attachment] = (),
    timezone: str = "",
) -> tuple[Conversation, Message]:
    """A new conversation (pinned to `prompt_version`, if any), its first message and a streaming reply."""
    text = check_message_text(text, attachments=attachments)
    _check_attachments(model, attachments)
    title = title_from_text(text or ", ".join(a.name for a in attachments))
    conversation = Conversation(
        owner=user,
        model=model,
        title=title,
        prompt_version=prompt_version,
        params={"timezone": timezone} if timezone in chat_params.ZONES else {},
    )
    with _opening_reply(conversation):
        conversation.save()
        _, reply = _add_turn(conversation, text, attachments)
    return conversation, reply


def message_send(
    *, conversation: Conversation, text: str, attachments: list[Attachment] = ()
) -> tuple[Message, Message]:
    """The user's message and a streaming reply to it, committed together."""
    text = check_message_text(text, attachments=attachments)
    _check_attachments(conversation.model, attachments)
    with _opening_reply(conversation):
        end = selectors.conversation_tree(conversation.pk).path()[-1:]
        turn = _add_turn(conversation, text, attachments, parent_id=end[0] if end else None)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=dj_timezone.now())
    return turn


@contextmanager
def _opening_reply(conversation: Conversation) -> Iterator[None]:
    """The one transaction that starts a streaming reply: the budget is checked inside it (so two
    sends are checked one after the other), and a reply already streaming in the conversation,
    which the database refuses, becomes ReplyInProgress."""
    try:
        with transaction.atomic():
            _check_budget(conversation)
            yield
    except IntegrityError as exc:
        raise ReplyInProgress() from exc
    metrics.DB_WRITES.labels("send").inc()


def _check_budget(conversation: Conversation) -> None:
    version = conversation.prompt_version
    try:
        check_can_send(user=conversation.owner_id, team_id=version.prompt.team_id if version else None)
    except BudgetExceeded as exc:
        raise ChatError(str(exc)) from exc


def _new_reply(conversation: Conversation, **fields) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model=conversation.model,
        heartbeat_at=dj_timezone.now(),
        **fields,
    )


def _add_turn(
    conversation: Conversation, text: str, attachments: list[Attachment] = (), **fields
) -> tuple[Message, Message]:
    """The user's message (after `parent_id`, the end of the branch it continues) and a streaming
    reply to it. Files first, then the text: the order the API recommends for questions about them."""
    user_message = Message.objects.create(conversation=conversation, role=Message.Role.USER, **fields)
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
    return user_message, _new_reply(conversation, parent=user_message, chosen_at=user_message.chosen_at)


def _ends_its_branch(reply: Message) -> bool:
    """Retry and Continue change a reply in place: only one that nothing follows yet."""
    return reply.role == Message.Role.ASSISTANT and not Message.objects.filter(parent_id=reply.pk).exists()


def _restart(reply: Message, **fields) -> Message:
    """The same reply streams again (Retry, Continue)."""
    with _opening_reply(reply.conversation):
        Message.objects.filter(pk=reply.pk).update(
            status=Message.Status.STREAMING, heartbeat_at=dj_timezone.now(), **fields
        )
    reply.refresh_from_db()
    return reply


def reply_retry(*, reply: Message) -> Message:
    """Run a failed, stopped or interrupted reply again, in place of its old partial output."""
    if reply.is_streaming or not _ends_its_branch(reply):
        raise ChatError("Only the last reply can be retried, once it has finished; regenerate others.")
    with transaction.atomic():
        restarted = _restart(
            reply,
            stop_reason="",
            request_id="",
            error="",
            input_tokens=0,
            output_tokens=0,
            cache_creation_input_tokens=0,
            cache_read_input_tokens=0,
            trimmed=0,
            model=reply.conversation.model,
        )
        restarted.blocks.all().delete()
    return restarted


def reply_continue(*, reply: Message) -> Message:
    """Resume a reply that hit max_tokens: the same message streams on after its last block."""
    if reply.stop_reason != "max_tokens" or reply.status != Message.Status.COMPLETE:
        raise ChatError("Only a reply that was cut off at its length limit can be continued.")
    if not _ends_its_branch(reply):
        raise ChatError("Only the last reply can be continued; regenerate others.")
    return _restart(reply, stop_reason="")


def reply_regenerate(*, reply: Message) -> Message:
    """A new version of a finished reply, any reply: another answer to the same question. It is
    the chosen version now; the old one (and what followed it) stays one switch away."""
    if reply.role != Message.Role.ASSISTANT or reply.is_streaming:
        raise ChatError("Only a reply that has finished can be regenerated.")
    conversation = reply.conversation
    with _opening_reply(conversation):
        chosen_at = _choose_branch(conversation.pk, reply.parent_id)
        return _new_reply(conversation, parent_id=reply.parent_id, chosen_at=chosen_at)


def message_edit(*, message: Message, text: str) -> tuple[Message, Message]:
    """A new version of one of the user's messages, any of them, with the same files, and a reply
    to it. It is the chosen version now; the old one and what followed it stay one switch away."""
    if message.role != Message.Role.USER:
        raise ChatError("Only your own messages can be edited.")
    conversation = message.conversation
    ids = [b.payload["attachment_id"] for b in message.blocks.all() if "attachment_id" in b.payload]
    attachments = selectors.attachments_for_user(conversation.owner, ids)
    if attachments is None:
        raise ChatError("A file of this message is no longer stored, so it cannot be sent again.")
    text = check_message_text(text, attachments=attachments)
    _check_attachments(conversation.model, attachments)
    with _opening_reply(conversation):
        chosen_at = _choose_branch(conversation.pk, message.parent_id)
        return _add_turn(conversation, text, attachments, parent_id=message.parent_id, chosen_at=chosen_at)


def version_choose(*, message: Message) -> None:
    """Show this version of its turn: the branch through it (and, below it, the versions chosen
    there before) becomes the conversation's chosen branch."""
    with transaction.atomic():
        _choose_branch(message.conversation_id, message.pk)


def _choose_branch(conversation_id: int, message_id: int | None) -> datetime:
    """Choose the branch down to `message_id` (from a stale tab it may not be chosen now); return
    the `chosen_at` that makes a new child of it the chosen one too."""
    tree = selectors.conversation_tree(conversation_id)
    chosen_at = tree.choice_time(dj_timezone.now())
    if message_id is not None:
        branch = [*tree.ancestors(message_id), message_id]
        Message.objects.filter(pk__in=branch).update(chosen_at=chosen_at)
    return chosen_at


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join(title.split())[:200]
    if not title:
        raise ChatError("A title cannot be empty.")
    conversation.title = title
    # Not `updated_at`: a rename must not move it to the top of the sidebar's list.
    conversation.save(update_fields=["title"])
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


def conversation_switch_prompt(*, conversation: Conversation, version: PromptVersion) -> None:
    """Pin the conversation to another prompt version; only ever on the user's explicit request."""
    conversation.prompt_version = version
    conversation.save(update_fields=["prompt_version", "updated_at"])


# --- persistence of a streaming reply (called by generation.py) ---------------------------


def block_save(*, message_id: int, index: int, payload: dict, rendered: str | None = None) -> str:
    """Store one content block (insert, or replace a checkpointed partial). Returns its rendered
    markdown; `rendered` is that HTML when the stream has rendered it already."""
    with transaction.atomic():
        rendered = _store_block(message_id, index, payload, rendered)
    metrics.DB_WRITES.labels("block").inc()
    return rendered


def _store_block(message_id: int, index: int, payload: dict, rendered: str | None = None) -> str:
    if rendered is None:
        rendered = render_markdown_blocks(payload["text"]) if payload["type"] == "text" else ""
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
        Message.objects.filter(pk=message_id).update(heartbeat_at=dj_timezone.now(), worker=worker)
    metrics.DB_WRITES.labels("checkpoint").inc()


@dataclass
class ReplyOutcome:
    """How a reply ended, as its final write stores it (the cost is priced from `usage` there)."""

    status: str = Message.Status.COMPLETE
    error: str = ""
    stop_reason: str = ""
    stop_sequence: str = ""
    trimmed: int = 0  # oldest messages left out to fit the context window
    request_id: str = ""
    usage: pricing.Usage = field(default_factory=pricing.Usage)
    cited_documents: list[int] = field(default_factory=list)  # what citations' document_index counts
    container: tuple[str, datetime] | None = None  # code execution's sandbox: (id, expires_at)

    def add_usage(self, counts: dict[str, int]) -> None:
        """Add one API call's token counts (a tool loop makes several calls)."""
        self.usage = self.usage.plus(counts)


def reply_finish(*, message_id: int, open_blocks: dict[int, dict], outcome: ReplyOutcome) -> Message:
    """The final write: status, usage, cost, stop reason; plus any block that never reached its stop."""
    with transaction.atomic():
        for index, payload in open_blocks.items():
            _store_block(message_id, index, payload)
        model, user_id, team_id, conversation_id = Message.objects.values_list(
            "model",
            "conversation__owner_id",
            "conversation__prompt_version__prompt__team_id",
            "conversation_id",
        ).get(pk=message_id)
        money = _money(model, outcome.usage)
        Message.objects.filter(pk=message_id).update(
            status=outcome.status,
            error=outcome.error,
            stop_reason=outcome.stop_reason,
            stop_sequence=outcome.stop_sequence,
            trimmed=outcome.trimmed,
            request_id=outcome.request_id,
            cited_documents=outcome.cited_documents,
            worker="",
            **money,
            **asdict(outcome.usage),
        )
        if money["cost"]:
            spend_record(user_id=user_id, team_id=team_id, cost=money["cost"])
        if outcome.container:  # later requests reuse it (code_execution.py)
            container_id, expires_at = outcome.container
            Conversation.objects.filter(pk=conversation_id).update(
                container_id=container_id, container_expires_at=expires_at
            )
    metrics.DB_WRITES.labels("final").inc()
    return Message.objects.select_related("conversation").get(pk=message_id)


def api_call_record(
    *,
    kind: ApiCall.Kind,
    model: str,
    usage: pricing.Usage,
    user_id: int,
    team_id: int | None,
    conversation_id: int | None = None,
    request_id: str = "",
) -> ApiCall:
    """A request that is not a reply (a title: overhead of its conversation), stored with its usage
    and cost, and its cost added to the budgets that pay for it, as a reply's final write does."""
    money = _money(model, usage)
    with transaction.atomic():
        if conversation_id and not Conversation.objects.filter(pk=conversation_id).exists():
            conversation_id = None  # purged while the call was out: the money still counts
        call = ApiCall.objects.create(
            kind=kind,
            model=model,
            user_id=user_id,
            team_id=team_id,
            conversation_id=conversation_id,
            request_id=request_id,
            **money,
            **asdict(usage),
        )
        if money["cost"]:
            spend_record(user_id=user_id, team_id=team_id, cost=money["cost"])
    return call


def _money(model: str, usage: pricing.Usage) -> dict:
    """A request's cost and what caching saved, at the model's price now; None when it has none."""
    price = selectors.price_for_model(model)
    if price is None:
        return {"cost": None, "cache_savings": None}
    return {"cost": pricing.cost(usage, price), "cache_savings": pricing.cache_savings(usage, price)}


def orphaned_replies_interrupt() -> int:
    """Replies left `streaming` by a process that died become `interrupted`; their text stays."""
    stale = dj_timezone.now() - timedelta(seconds=settings.CHAT_ORPHAN_AFTER)
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
