"""A project's knowledge as the request carries it: every file, in the order it was added, as
`document` blocks (PDFs and text, citations on) or `image` blocks, placed before the first turn
with one 1-hour cache breakpoint after them (anthropic_request.build_request).

The blocks depend only on the files (by Files API file_id once uploaded, text files as text
sources), never on who asks or which turn it is, so every member's requests share a cached prefix.

Knowledge too big for that (its count_tokens total over CHAT_PROJECT_KNOWLEDGE_SHARE of the
model's context window: retrieval.fits) goes another way: each request carries the passages that
match its question, as `search_result` blocks in the question's turn (retrieval.py); images, which
have no text to match, are then left out.
"""

import base64
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from conversations import storage
from conversations.claude import llm
from conversations.claude.capabilities import capabilities
from conversations.models import Conversation, ProjectFile
from conversations.projects import retrieval, selectors


@dataclass(frozen=True)
class Knowledge:
    blocks: list[dict] = field(default_factory=list)
    # For each document block: what a citation's document_index names (Message.cited_documents).
    documents: list[str] = field(default_factory=list)
    file_ids: set[str] = field(default_factory=set)  # the Files API ids it may reference
    # Instead of the files, when they do not fit: the question's passages (search_result blocks).
    passages: list[dict] = field(default_factory=list)


def for_conversation(conversation: Conversation, *, by_file_id: bool, question: str = "") -> Knowledge:
    """The knowledge of the conversation's project (the files, or the passages matching `question`
    when they do not fit); none when it has no project, or when its owner may no longer open the
    project (they left the team)."""
    if conversation.project_id is None:
        return Knowledge()
    if selectors.project_access(conversation.owner_id, conversation.project_id) is None:
        return Knowledge()
    files = list(ProjectFile.objects.filter(project_id=conversation.project_id).order_by("pk"))
    if not sent_whole(conversation, files):
        return Knowledge(passages=retrieval.search_results(conversation.project_id, question))
    blocks = [file_block(f, by_file_id=by_file_id) for f in files]
    return Knowledge(
        blocks=blocks,
        documents=[file_url(f) for f, b in zip(files, blocks, strict=True) if b["type"] == "document"],
        file_ids={f.file_id for f in files if f.file_id},
    )


def file_block(file: ProjectFile, *, by_file_id: bool) -> dict:
    """One file as the API reads it (by file_id when asked and uploaded, else its bytes)."""
    kind = "image" if file.is_image else "document"
    if file.media_type == "text/plain":
        data = storage.read(file.storage_key).decode()
        source = {"type": "text", "media_type": "text/plain", "data": data}
    elif by_file_id and file.file_id:
        source = {"type": "file", "file_id": file.file_id}
    else:
        data = storage.read(file.storage_key)
        source = {"type": "base64", "media_type": file.media_type, "data": base64.b64encode(data).decode()}
    block = {"type": kind, "source": source}
    if kind == "document":
        block |= {"title": file.name, "citations": {"enabled": True}}
    return block


def file_url(file: ProjectFile) -> str:
    return retrieval.source_of(file, page=None)


def not_uploaded(conversation: Conversation) -> list[ProjectFile]:
    """The project's PDFs and images without a file_id yet, when the files go whole (text files go
    as text sources)."""
    if conversation.project_id is None:
        return []
    files = list(ProjectFile.objects.filter(project_id=conversation.project_id).order_by("pk"))
    if not sent_whole(conversation, files):
        return []
    return [f for f in files if not f.file_id and f.media_type != "text/plain"]


def sent_whole(conversation: Conversation, files: list[ProjectFile]) -> bool:
    """Whether the files fit the conversation's model whole (retrieval.fits)."""
    return retrieval.fits((f.token_count for f in files), capabilities(conversation.model).context_window)


async def file_tokens(file: ProjectFile, model: str) -> int:
    """The file's size in tokens, by count_tokens (once, when it is added)."""
    block = await sync_to_async(file_block)(file, by_file_id=False)
    return await llm.count_tokens({"model": model, "messages": [{"role": "user", "content": [block]}]})
