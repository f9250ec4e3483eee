"""Code execution: Claude's server tool that runs code in Anthropic's sandbox (a container).

Offered where the instance allows it (CHAT_CODE_EXECUTION), the model has it (the capability
table, unless the API's model list says otherwise) and the user turned it on for the
conversation. The tool version is the installed SDK's (anthropic 2.12: code_execution_20260521).

What it streams is declared with the block kinds (conversations/blocks/code.py): calls (Python
code, a shell command, or a file created, viewed or edited), each followed by its result: stdout,
stderr and the return code, the file operation's result, or an error code. They are stored and
replayed verbatim, like the web tools' blocks.

The container: each response names the one it ran in (message_delta.container); the
conversation keeps it, and later requests pass it back until it expires, so files and state
carry over from turn to turn.

Files the code made: a result lists them by Files API file_id. When the result arrives each one
gets a ProducedFile row (its name, type and size from the Files API), the conversation's owner
downloads it through the ownership-checked view (staff through an audited transcript), and it is
deleted from the Files API with its row (the conversation purged, its owner deleted).

Billing: the API bills container time, which the usage object does not report; reply costs do
not include it (README, "Code execution").
"""

import logging
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from conversations import selectors, services
from conversations.blocks import code
from conversations.claude import catalog, llm
from conversations.claude.capabilities import Capabilities
from conversations.claude.params import ChatParams
from conversations.models import Conversation, ProducedFile, RemoteFileDeletion
from conversations.skills.selectors import container_skills

log = logging.getLogger(__name__)

VERSION = f"{code.TOOL}_20260521"
SKILLS_BETA = "skills-2025-10-02"
# A container this close to expiring is not reused: a new one is safer than a 400 mid-reply.
EXPIRY_MARGIN = timedelta(minutes=1)


def tool_definition() -> dict:
    return {"type": VERSION, "name": code.TOOL}


def offered(conversation: Conversation, caps: Capabilities) -> bool:
    """Whether the settings popover offers the toggle."""
    if catalog.listed_without(conversation.model, code.TOOL):  # the API's model list knows better
        return False
    return settings.CHAT_CODE_EXECUTION and caps.code


def enabled(conversation: Conversation, chosen: ChatParams, caps: Capabilities) -> bool:
    """Whether this conversation's next request offers the tool."""
    return chosen.code and offered(conversation, caps)


def skills_for(conversation: Conversation, chosen: ChatParams, caps: Capabilities) -> list[dict]:
    """The container's skills the person switched on, where code execution is offered: Anthropic's
    (pptx, xlsx, docx, pdf) and the chat's team's own (skills/). Choosing one brings the tool."""
    if not chosen.skills or not offered(conversation, caps):
        return []
    return container_skills(chosen.skills, selectors.team_of(conversation))


def container_param(conversation: Conversation, skills: list[dict]) -> str | dict | None:
    """The request's `container`: the conversation's (while it lasts), with the skills to load."""
    reused = container_for(conversation)
    if not skills:
        return reused
    return ({"id": reused} if reused else {}) | {"skills": skills}


def container_for(conversation: Conversation) -> str | None:
    """The container a request reuses: the conversation's, unless it has (nearly) expired."""
    expires = conversation.container_expires_at
    if conversation.container_id and expires and expires > timezone.now() + EXPIRY_MARGIN:
        return conversation.container_id
    return None


def container_of(delta) -> tuple[str, datetime] | None:
    """(id, expires_at) from a message_delta's delta, when the response used a container."""
    container = getattr(delta, "container", None)
    return (container.id, container.expires_at) if container is not None else None


async def record_files(conversation_id: int, block: dict) -> None:
    """A ProducedFile row for each file the result lists, named from the Files API's metadata
    (its id when the metadata cannot be read: the download still works)."""
    for file_id in code.file_ids(block):
        name, mime_type, size = file_id, "", None
        try:
            metadata = await llm.file_metadata(file_id)
            name, mime_type, size = metadata.filename, metadata.mime_type, metadata.size_bytes
        except llm.FILE_ERRORS as exc:
            error, request_id = llm.describe_error(exc)
            log.warning("reading file %s's metadata failed: %s (request %s)", file_id, error, request_id)
        await sync_to_async(services.produced_file_record)(
            conversation_id=conversation_id, file_id=file_id, name=name, mime_type=mime_type, size=size
        )


def produced_files(block: dict, conversation_id: int | None) -> list[ProducedFile]:
    """The rows of the files a stored result lists, in its order (no query when it lists none):
    those of `conversation_id` when it is given, so an id copied or forged into another
    conversation names nothing."""
    ids = code.file_ids(block)
    if not ids:
        return []
    found = ProducedFile.objects.filter(file_id__in=ids)
    if conversation_id is not None:
        found = found.filter(conversation_id=conversation_id)
    rows = {row.file_id: row for row in found}
    return [rows[file_id] for file_id in ids if file_id in rows]


@receiver(post_delete, sender=ProducedFile, dispatch_uid="produced_file_remote_file")
def _produced_file_deleted(sender, instance: ProducedFile, **kwargs) -> None:
    """Queue its file in the Files API for deletion (attachment_files.remote_deletions_run)."""
    RemoteFileDeletion.objects.create(file_id=instance.file_id)
