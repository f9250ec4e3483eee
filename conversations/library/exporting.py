"""Export a conversation as JSON (what is stored: every message of every version, its blocks as the
API sent them, its model, options and usage) or as Markdown (the branch on screen, to read); every
conversation of a user as a zip; and the JSON back in as a new conversation.

The JSON is also a team share's snapshot (sharing.py). An import is checked against the format
(`parse`) before anything is written, then written in short transactions (conversation_import).
Files travel only in the zip: a file reference stays only when the importer owns that file (their
own export, back in): an attachment, or a Files API id at any depth (a tool's result, a fetched
document, the files code made). Any other becomes a text placeholder, so no one reaches another's
file by forging an id. An image or PDF by its link is nobody's file: it is checked as a send
checks it and kept as this app sends it. Imported messages are marked `copied_at`: their tokens
and cost are shown as the original chat's and never counted as spending here. The owner's
feedback on replies (Good response, Bad response, a comment) is in their own JSON export, never in
a share's snapshot, and is not imported: it rated replies in the original chat, on the prompt
version that chat was on. A chat in a project names it (`project`: id and name); an import is in
that project only when the importer may open it and the chat's prompt is its instructions (their
own export, or a teammate's share, back in), else in none: never in someone else's project.
"""

import json
import shutil
import tempfile
import time
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from chatsite import json_depth
from conversations import blocks, rendering, selectors, storage
from conversations.blocks import UNKNOWN, kind_of
from conversations.blocks.files import is_link, link_block, link_problem
from conversations.blocks.kind import md_text, md_url
from conversations.claude import catalog, citations
from conversations.claude import params as chat_params
from conversations.claude.capabilities import capabilities
from conversations.forms import MAX_ID
from conversations.models import Attachment, ContentBlock, Conversation, Message, Project
from conversations.projects.selectors import project_access
from conversations.reply.anthropic_request import file_ids_in, without_files
from conversations.versions import Tree
from teams.models import PromptVersion
from teams.selectors import prompts_usable_by

FORMAT = "chat-conversation"
VERSION = 1
MAX_IMPORT_BYTES = 10 * 2**20
MAX_MESSAGES = 5000
MAX_BLOCKS = 200
USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation_1h_input_tokens",
)


class Refused(Exception):
    """An import that is not this format, or too big; the message says why, to the user."""


# --- export ---------------------------------------------------------------------------------


def _money(value) -> str | None:
    return None if value is None else str(value)


def _feedback_data(message: Message) -> dict | None:
    feedback = getattr(message, "feedback", None)  # None when it has none
    if feedback is None:
        return None
    return {
        "rating": feedback.rating,
        "comment": feedback.comment,
        "created_at": feedback.created_at.isoformat(),
        "updated_at": feedback.updated_at.isoformat(),
    }


def _message_data(message: Message, position: dict[int, int], *, feedback: bool) -> dict:
    return {
        "parent": position.get(message.parent_id),
        "role": message.role,
        "status": message.status,
        "model": message.model,
        "stop_reason": message.stop_reason,
        "stop_sequence": message.stop_sequence,
        "error": message.error,
        "created_at": message.created_at.isoformat(),
        "chosen_at": message.chosen_at.isoformat(),
        "usage": {name: getattr(message, name) for name in USAGE_FIELDS},
        "cost": _money(message.cost),
        "cache_savings": _money(message.cache_savings),
        "options": message.options,
        "blocks": [json_depth.cut(block.payload) for block in message.blocks.all()],
        **({"feedback": _feedback_data(message)} if feedback else {}),
    }


def conversation_data(
    conversation: Conversation, *, finished_only: bool = False, feedback: bool = False
) -> dict:
    """The conversation as the JSON export holds it. Messages in the order they were written;
    `parent` is the position of the message each one follows (null for a first message).
    `finished_only` leaves out a reply still streaming (a share's snapshot: it would stay
    "streaming" there for ever); one is always a leaf, so no other message loses its parent.
    `feedback` adds the owner's rating and comment of each reply (null for none): their own
    export has it, a share's snapshot never does. An import leaves it out (the copy's replies
    are new, unrated)."""
    rows = selectors.messages_with_blocks(conversation).order_by("id")
    if feedback:
        rows = rows.select_related("feedback")
    if finished_only:
        rows = rows.exclude(status=Message.Status.STREAMING)
    messages = list(rows)
    position = {message.pk: i for i, message in enumerate(messages)}
    version = conversation.prompt_version
    project = conversation.project
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "title": conversation.title,
        "model": conversation.model,
        "params": conversation.params,
        "created_at": conversation.created_at.isoformat(),
        "system_prompt": version
        and {"id": version.pk, "name": version.prompt.name, "version": version.number, "text": version.text},
        "project": project and {"id": project.pk, "name": project.name},
        "messages": [_message_data(message, position, feedback=feedback) for message in messages],
    }


def as_json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)


def chosen_branch(data: dict) -> list[dict]:
    """The messages of the branch on screen (each turn's version chosen last), first to last."""
    messages = data["messages"]
    rows = [(i, m["parent"], datetime.fromisoformat(m["chosen_at"])) for i, m in enumerate(messages)]
    return [messages[i] for i in Tree(rows).path()]


def footnotes_markdown(sources: citations.Sources) -> list[str]:
    """A reply's sources, numbered as on the page: its Markdown export's and its Copy reply's."""
    lines = []
    for source in sources.by_key.values():
        where = citations.pages(source.citation)
        label = f"{source.label}, {where}" if where else source.label
        url = source.citation.get("url")
        lines.append(f"[{source.number}] {md_text(label)}" + (f" — {md_url(url)}" if url else ""))
    return lines


def as_markdown(data: dict) -> str:
    """The branch on screen as Markdown: a heading per message, its blocks as they read, and the
    sources it cites, numbered as on the page."""
    lines = [f"# {data['title']}", "", f"Model: {data['model']} · exported {data['exported_at'][:16]} UTC"]
    if prompt := data.get("system_prompt"):
        lines.append(f"System prompt: {prompt['name']} v{prompt['version']}")
    if project := data.get("project"):
        lines.append(f"Project: {project['name']}")
    for message in chosen_branch(data):
        who = "You" if message["role"] == "user" else f"Assistant ({message['model'] or data['model']})"
        lines += ["", f"## {who}", ""]
        sources = citations.Sources()
        parts = [blocks.markdown(block, sources) for block in message["blocks"]]
        lines.append("\n\n".join(part for part in parts if part))
        if footnotes := footnotes_markdown(sources):
            lines += ["", "Sources:", "", *footnotes]
        if message["status"] not in ("complete", "streaming"):
            lines += ["", f"*({message['status']}{': ' + message['error'] if message['error'] else ''})*"]
    return "\n".join(lines) + "\n"


def filename(conversation: Conversation, extension: str) -> str:
    return f"{slugify(conversation.title)[:60] or 'conversation'}-{conversation.pk}.{extension}"


def user_zip(user) -> IO[bytes]:
    """Every conversation of the user (archived ones too) as JSON and Markdown, and their files: a
    temporary file (on disk past a few MB, however much there is), read from the start."""
    buffer = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for conversation in Conversation.objects.listed().filter(owner=user).order_by("pk"):
            data = conversation_data(conversation, feedback=True)
            archive.writestr(f"conversations/{filename(conversation, 'json')}", as_json(data))
            archive.writestr(f"conversations/{filename(conversation, 'md')}", as_markdown(data))
        for attachment in Attachment.objects.filter(owner=user).order_by("pk"):
            if storage.exists(attachment.storage_key):
                name = f"attachments/{attachment.pk}-{Path(attachment.name).name or 'file'}"
                with storage.open_stream(attachment.storage_key) as source, archive.open(name, "w") as target:
                    shutil.copyfileobj(source, target)
    buffer.seek(0)
    return buffer


# --- import: the format ----------------------------------------------------------------------

Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Short = Annotated[str, StringConstraints(max_length=200)]
# An imported reply's cost is shown as the original chat's, never counted as spending here; still
# it must be a sum the original could have cost (no negative cost to offset real spending).
MAX_MONEY = Decimal(1_000_000)
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=8, allow_inf_nan=False, le=MAX_MONEY)]
Cost = Annotated[Money, Field(ge=0)]
Savings = Annotated[Money, Field(ge=-MAX_MONEY)]  # negative when a cache write cost more than it saved
# What a stored block of each type must hold (the registry's kinds, blocks/). Server tools' blocks
# are kept as the API sent them (replayed in later turns, or sent as text when the tool is off
# there); the files code made stay the original conversation's.
BLOCK_FIELDS = {kind.type: kind.fields for kind in blocks.KINDS}


class ImportedMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    parent: int | None = None
    role: Literal["user", "assistant"]
    status: Literal["complete", "stopped", "error", "interrupted", "streaming"] = "complete"
    model: Annotated[str, StringConstraints(max_length=100)] = ""
    stop_reason: Annotated[str, StringConstraints(max_length=40)] = ""
    stop_sequence: Short = ""
    error: Annotated[str, StringConstraints(max_length=5000)] = ""
    chosen_at: AwareDatetime | None = None
    usage: dict[Literal[USAGE_FIELDS], Count] = Field(default_factory=dict)  # type: ignore[valid-type]
    cost: Cost | None = None
    cache_savings: Savings | None = None
    options: chat_params.ReplyOptions | None = None  # what a reply was generated with
    blocks: list[dict[str, Any]] = Field(max_length=MAX_BLOCKS)

    @field_validator("blocks")
    @classmethod
    def _blocks_have_their_fields(cls, blocks: list[dict]) -> list[dict]:
        for block in blocks:
            if json_depth.depth(block) > json_depth.MAX_DEPTH:
                raise ValueError(f"a block nests deeper than {json_depth.MAX_DEPTH} levels")
            kind = block.get("type")
            fields = BLOCK_FIELDS.get(kind) if isinstance(kind, str) else None
            if fields is not None and kind_of(block) is not UNKNOWN:
                fields = kind_of(block).fields  # a kind narrowing a shared type: a file by its link
            if fields is None:
                kind = str(block.get("type"))[:40]
                raise ValueError(f"a block of type {kind!r} is not one this app stores")
            for name, kind in fields.items():
                value = block.get(name)
                if (
                    not isinstance(value, kind)
                    or isinstance(value, bool)
                    or (isinstance(value, int) and not 0 < value <= MAX_ID)
                ):
                    raise ValueError(f"a {block['type']} block has no valid {name!r}")
            if is_link(block) and (problem := link_problem(block["source"].get("url"))):
                raise ValueError(f"a {block['type']} block's link is refused: {problem}")
        return blocks


class ImportedConversation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["chat-conversation"]
    version: Literal[1]
    title: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)] = ""
    model: Annotated[str, StringConstraints(max_length=100)] = ""
    params: dict[str, Any] = Field(default_factory=dict)
    system_prompt: dict[str, Any] | None = None
    project: dict[str, Any] | None = None
    messages: list[ImportedMessage] = Field(max_length=MAX_MESSAGES)

    @field_validator("messages")
    @classmethod
    def _parents_come_first(cls, messages: list[ImportedMessage]) -> list[ImportedMessage]:
        for i, message in enumerate(messages):
            if message.parent is not None and not 0 <= message.parent < i:
                raise ValueError(f"message {i} follows a message that does not come before it")
        return messages


def parse(raw: bytes) -> ImportedConversation:
    """The upload as an export, or Refused saying what is wrong with it."""
    if len(raw) > MAX_IMPORT_BYTES:
        limit = MAX_IMPORT_BYTES // 2**20
        raise Refused(f"The file is {len(raw) / 2**20:.1f} MB; imports are limited to {limit} MB.")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Refused("The file is not JSON: import a conversation exported as JSON from this app.") from None
    except RecursionError:
        limit = json_depth.MAX_DEPTH
        raise Refused(f"The file nests deeper than {limit} levels; an export never does.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Refused(
            "The file is not a conversation exported from this app (its format is not “chat-conversation”)."
        )
    if "\\u0000" in text:  # PostgreSQL cannot store a NUL character
        raise Refused("The file contains a NUL character, which cannot be stored.")
    try:
        return ImportedConversation.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise Refused(f"The file does not match the export format ({where}: {error['msg']}).") from None


def _no_constant(name: str):
    raise Refused(f"The file contains {name}, which is not a number JSON allows.")


# --- import: the writes ----------------------------------------------------------------------


def conversation_import(*, user, data: ImportedConversation, title: str | None = None) -> Conversation:
    """A new conversation of `user` from an export (or a share's snapshot): all its messages and
    versions, its model and settings where they still apply, its prompt where the user may use it.

    Everything is prepared before the first write (file references checked, replies rendered);
    then it is written in short transactions of about CHUNK_BLOCKS blocks, so other people's
    writes wait for one chunk at most, never for the whole file. Until the last chunk the
    conversation is hidden as a deleted one whose `deleted_at` each chunk renews: an import that
    dies midway is purged like any deleted conversation (organising.py) and leaves nothing."""
    model = data.model if data.model and catalog.is_available(data.model) else settings.CHAT_DEFAULT_MODEL
    parsed, errors = chat_params.parse(data.params, capabilities(model))
    prepared = _prepared_blocks(user, data)
    now = timezone.now()
    version = _usable_prompt_version(user, data.system_prompt)
    conversation = Conversation.objects.create(
        owner=user,
        title=title or data.title or "Imported chat",
        model=model,
        params=parsed.model_dump(exclude_defaults=True) if parsed else {},
        prompt_version=version,
        project=_usable_project(user, data.project, version),
        deleted_at=now,
    )
    created: list[Message] = []
    try:
        for chunk in _chunks(list(zip(data.messages, prepared, strict=True))):
            _write_chunk(conversation, chunk, created, now)
    except BaseException:
        Conversation.objects.filter(pk=conversation.pk).delete()
        raise
    Conversation.objects.filter(pk=conversation.pk).update(deleted_at=None)
    conversation.deleted_at = None
    return conversation


CHUNK_BLOCKS = 250  # per transaction: about 40 ms of writing on SQLite here (python -m bench.imports)
Prepared = list[ContentBlock]  # a message's blocks, made before the writes (its message set then)


def _chunks(messages: list[tuple[ImportedMessage, Prepared]]):
    chunk, size = [], 0
    for message, prepared in messages:
        chunk.append((message, prepared))
        size += len(prepared) + 1
        if size >= CHUNK_BLOCKS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _write_chunk(conversation: Conversation, chunk, created: list[Message], now: datetime) -> None:
    with transaction.atomic():
        alive = Conversation.objects.filter(pk=conversation.pk, deleted_at__isnull=False)
        if not alive.update(deleted_at=timezone.now()):  # purged while the import waited
            raise Refused("The import was interrupted; nothing of it was kept. Import the file again.")
        blocks: list[ContentBlock] = []
        for message, prepared in chunk:
            row = _message_row(conversation, message, created, now)
            created.append(row)
            for block in prepared:
                block.message = row
            blocks += prepared
        ContentBlock.objects.bulk_create(blocks)
    time.sleep(0)  # let a writer that waited for this chunk go before the next one


def _message_row(
    conversation: Conversation, message: ImportedMessage, created: list[Message], now: datetime
) -> Message:
    return Message.objects.create(
        conversation=conversation,
        parent=created[message.parent] if message.parent is not None else None,
        role=message.role,
        # A reply that was streaming when it was exported is not streaming here.
        status=Message.Status.INTERRUPTED if message.status == "streaming" else message.status,
        model=message.model,
        stop_reason=message.stop_reason,
        stop_sequence=message.stop_sequence,
        error=message.error,
        chosen_at=message.chosen_at or now,
        cost=message.cost,
        cache_savings=message.cache_savings,
        options=message.options.stored() if message.options and message.role == "assistant" else None,
        copied_at=now,
        **message.usage,
    )


def _prepared_blocks(user, data: ImportedConversation) -> list[Prepared]:
    """Each message's blocks as they will be stored: a file the user does not own (an attachment,
    or a Files API id at any depth) becomes a text placeholder; replies' text is rendered."""
    every = [b for m in data.messages for b in m.blocks]
    attachment_ids = {b["attachment_id"] for b in every if "attachment_id" in b}
    owned = Attachment.objects.filter(owner=user, pk__in=attachment_ids) if attachment_ids else []
    owned_attachments = {attachment.pk for attachment in owned}
    owned_files = selectors.owned_file_ids(user.pk, file_ids_in(every))
    return [
        [_prepared(message.role, i, b, owned_attachments, owned_files) for i, b in enumerate(message.blocks)]
        for message in data.messages
    ]


def _prepared(role: str, index: int, payload: dict, owned_attachments: set[int], owned_files: set[str]):
    if is_link(payload):  # as this app sends it (checked by parse), nothing added
        payload = link_block(payload["source"]["url"], payload["type"])
    elif payload["type"] in ("image", "document") and payload["attachment_id"] not in owned_attachments:
        payload = {"type": "text", "text": f"[{blocks.files.label(payload)} not included: {payload['name']}]"}
    payload = without_files(payload, owned_files)
    rendered = ""
    if payload["type"] == "text" and role == Message.Role.ASSISTANT:
        rendered = rendering.render_markdown_blocks(payload["text"])
    return ContentBlock(
        index=index,
        type=payload["type"],
        payload=payload,
        rendered=rendered,
        rendered_version=rendering.RENDERER_VERSION,
    )


def _usable_prompt_version(user, system_prompt: dict | None):
    """The exported prompt version, when it is one the user may use here; else none."""
    version_id = (system_prompt or {}).get("id")
    if not isinstance(version_id, int) or isinstance(version_id, bool) or not 0 < version_id <= MAX_ID:
        return None
    usable = prompts_usable_by(user).values("pk")
    return PromptVersion.objects.filter(pk=version_id, prompt__in=usable).first()


def _usable_project(user, project: dict | None, version: PromptVersion | None) -> Project | None:
    """The exported project, when the user may open it and `version` is of its instructions; else none."""
    project_id = (project or {}).get("id")
    if not isinstance(project_id, int) or isinstance(project_id, bool) or not 0 < project_id <= MAX_ID:
        return None
    access = project_access(user.pk, project_id)
    if access is None or version is None or version.prompt_id != access.project.instructions_id:
        return None
    return access.project
