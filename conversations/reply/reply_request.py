"""The request for one reply, read top-down: stored messages -> API turns -> the request dict.

The database reads and the attachment files are here; the shaping is `anthropic_request` (pure).
"""

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from django.conf import settings

from conversations import blocks, selectors, storage
from conversations.claude import catalog, compaction, mcp, memory_tool, params, sandbox, tools, web
from conversations.claude.capabilities import Capabilities, capabilities
from conversations.connectors.selectors import ConnectorUse
from conversations.models import Attachment, Message
from conversations.projects import knowledge
from conversations.reply.anthropic_request import (
    FILE_LEFT_OUT,
    PinnedPrompt,
    Turn,
    build_request,
    file_ids_in,
    turns_of,
    without_files,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyRequest:
    """What a reply sends, and the documents it sends, in request order (an attachment's id, a
    linked PDF's URL): what a citation's document_index counts (Message.cited_documents)."""

    body: dict
    cited_documents: list[int | str]
    connectors: list[ConnectorUse] = field(default_factory=list)  # what it sends (claude/mcp.py)


def request_for(
    reply: Message,
    *,
    own_blocks: list[dict],
    skip: int = 0,
    by_file_id: bool = False,
    without: frozenset[str] = frozenset(),
) -> ReplyRequest:
    """What `reply` sends: the conversation so far (but its oldest `skip` messages), then the
    reply's own blocks so far (a tool loop or a Continue resumes after them). `by_file_id`:
    attachments uploaded to the Files API are referenced by file_id (attachment_files.py).
    `without`: connectors this reply goes on without (the API could not use them)."""
    conversation = reply.conversation
    version = conversation.prompt_version
    caps = capabilities(reply.model)
    chosen = params.stored(conversation.params)
    earlier = selectors.earlier_messages(reply)[skip:]
    history = stored_turns(earlier, owner_id=conversation.owner_id, by_file_id=by_file_id)
    options = memory_tool.with_memory(request_options(chosen, caps), conversation.owner_id, caps)
    if web.enabled(conversation, chosen, caps):
        options["tools"] = [*options.get("tools", []), *web.tool_definitions()]
    options = with_sandbox(options, conversation, chosen, caps)
    connectors = [u for u in mcp.chosen(conversation, chosen, caps) if u.name not in without]
    options = merged(options, mcp.request_options(connectors, own_blocks))
    if chosen.context_1m and caps.context_1m:
        options = merged(options, {"betas": [catalog.BETA_1M]})
    options = compaction.request_options(reply.model, caps, options, chosen.context_1m)
    known = knowledge.for_conversation(conversation, by_file_id=by_file_id, question=question_of(earlier))
    request = build_request(
        turns=history + turns_of("assistant", own_blocks),
        model=reply.model,
        max_tokens=min(chosen.max_tokens or settings.CHAT_MAX_TOKENS, caps.max_output),
        user_id=opaque_user_id(conversation.owner_id),
        prompt=PinnedPrompt(version.text, version.cache_ttl) if version else None,
        options=options,
        knowledge=known.blocks,
        passages=known.passages,
    )
    body = only_own_files(request, conversation.owner_id, reply.pk, also=known.file_ids)
    return ReplyRequest(body, known.documents + document_ids(earlier), connectors)


def with_sandbox(options: dict, conversation, chosen: params.ChatParams, caps: Capabilities) -> dict:
    """Code execution, when on or when a skill is (skills run in its container)."""
    skills = sandbox.skills_for(conversation, chosen, caps)
    if not (skills or sandbox.enabled(conversation, chosen, caps)):
        return options
    options = merged(options, {"tools": [sandbox.tool_definition()]})
    if container := sandbox.container_param(conversation, skills):
        options["container"] = container
    return merged(options, {"betas": [sandbox.SKILLS_BETA]}) if skills else options


def merged(options: dict, more: dict) -> dict:
    """`options` with `more`: its tools and betas added to theirs, anything else set."""
    joined = {key: [*options.get(key, []), *more[key]] for key in ("tools", "betas") if key in more}
    return {**options, **more, **joined}


def question_of(messages: list[Message]) -> str:
    """The text of the newest user message: what a project's retrieval looks for."""
    asked = next((m for m in reversed(messages) if m.role == Message.Role.USER), None)
    if asked is None:
        return ""
    return "\n".join(b.payload.get("text") or "" for b in asked.block_list if b.type == "text")


def only_own_files(request: dict, owner_id: int, reply_id: int, also: set[str] = frozenset()) -> dict:
    """Defence in depth: every file the request refers to is the conversation owner's (or `also`:
    the knowledge of a project they are in). One key reads every file, so a foreign id (forged
    into a copy, say) would let Claude read another person's file; it is left out, and logged
    (never silently)."""
    referenced = file_ids_in(request["messages"])
    foreign = referenced - also - selectors.owned_file_ids(owner_id, referenced - also)
    if not foreign:
        return request
    log.warning("reply %s: left out %d file(s) its owner does not have", reply_id, len(foreign))
    return {**request, "messages": without_files(request["messages"], referenced - foreign)}


def stored_turns(messages: list[Message], *, owner_id: int, by_file_id: bool = False) -> list[Turn]:
    """Messages (with their `block_list`: selectors.earlier_messages) as the API sees them. Image
    and document blocks are stored as references to an Attachment; here they become the API's
    blocks: by file_id when asked and it has one, else base64 read from storage."""
    ids = [b.payload["attachment_id"] for m in messages for b in m.block_list if "attachment_id" in b.payload]
    stored = Attachment.objects.filter(owner_id=owner_id).in_bulk(ids) if ids else {}
    return [
        turn
        for m in messages
        for turn in turns_of(m.role, [api_block(b.payload, stored, by_file_id) for b in m.block_list])
    ]


def api_block(payload: dict, stored: dict[int, Attachment], by_file_id: bool = False) -> dict:
    """A stored block as the API reads it: an attachment's reference becomes its image or document."""
    if "attachment_id" not in payload:
        return payload
    attachment = stored.get(payload["attachment_id"])
    if attachment is None:  # not the owner's (only a forged copy could hold one)
        return {"type": "text", "text": FILE_LEFT_OUT}
    if by_file_id and attachment.file_id and attachment.media_type != "text/plain":
        block = {"type": payload["type"], "source": {"type": "file", "file_id": attachment.file_id}}
        return cite_document(block, attachment)
    data = storage.read(attachment.storage_key)
    source = {"type": "base64", "media_type": attachment.media_type, "data": base64.b64encode(data).decode()}
    if attachment.media_type == "text/plain":
        source = {"type": "text", "media_type": "text/plain", "data": data.decode()}
    return cite_document({"type": payload["type"], "source": source}, attachment)


def cite_document(block: dict, attachment: Attachment) -> dict:
    """PDFs and text files go with citations on: the answer can quote them by page or character."""
    if block["type"] != "document":
        return block
    return {**block, "title": attachment.name, "citations": {"enabled": True}}


def document_ids(messages: list[Message]) -> list[int | str]:
    """The document blocks these messages send, in request order: an attachment's id, or the URL
    of a PDF sent by its link."""
    return [
        b.payload["attachment_id"] if "attachment_id" in b.payload else b.payload["source"]["url"]
        for m in messages
        for b in m.block_list
        if b.type == "document" and ("attachment_id" in b.payload or blocks.files.is_link(b.payload))
    ]


def request_options(chosen: params.ChatParams, caps: Capabilities) -> dict:
    """Keyword arguments for messages.create beyond model, max_tokens, system, messages, metadata."""
    options: dict = {}
    if chosen.thinking and caps.adaptive_thinking:
        options["thinking"] = {"type": "adaptive", "display": "summarized"}
    if chosen.effort and caps.effort:
        options["output_config"] = {"effort": chosen.effort}
    if chosen.stop_sequences:
        options["stop_sequences"] = chosen.stop_sequences
    sampling = {
        name: getattr(chosen, name)
        for name in ("temperature", "top_p", "top_k")
        if caps.sampling and getattr(chosen, name) is not None
    }
    if sampling:
        options["extra_body"] = sampling  # this SDK version no longer types them
    if chosen.tools and caps.tools:
        options["tools"] = tools.schemas()
    return options


def opaque_user_id(user_id: int) -> str:
    """The `metadata.user_id` sent to the API: stable per user, and reveals nothing about them."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"user:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
