"""Pure: stored history + settings -> the Messages API request (a plain dict).

No I/O here. Tests pin the exact JSON this produces.

Prompt caching: the pinned system prompt is the first system block and carries the first cache
breakpoint, so every conversation on the same prompt version sends a byte-identical cached
prefix. Nothing volatile may go before it. A second, rolling breakpoint sits on the last block of
the newest user turn, so each turn reads the previous turns from the cache.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from conversations import blocks
from conversations.blocks import code

MAX_BREAKPOINTS = 4  # the API's limit per request


@dataclass(frozen=True)
class PinnedPrompt:
    """The system prompt version a conversation is pinned to."""

    text: str
    cache_ttl: str = "5m"  # or "1h"


@dataclass(frozen=True)
class Turn:
    """One stored message: its role and its content blocks as the API shapes them."""

    role: str
    blocks: list[dict] = field(default_factory=list)


def turns_of(role: str, blocks: list[dict]) -> list[Turn]:
    """A stored reply keeps its tool results inline, after the calls; the API wants each run of
    tool_result blocks as a user turn between two assistant turns."""
    if role == "user":
        return [Turn("user", list(blocks))]
    turns: list[Turn] = []
    for block in blocks:
        block_role = "user" if block["type"] == "tool_result" else "assistant"
        if turns and turns[-1].role == block_role:
            turns[-1].blocks.append(block)
        else:
            turns.append(Turn(block_role, [block]))
    return turns


def replayable_block(block: dict) -> dict | None:
    """The block as the API must see it again, or None when it cannot be replayed.

    Thinking blocks go back verbatim with their signature; one cut off before its signature
    arrived (a stopped reply) is dropped, as is an empty text block.
    """
    kind = block.get("type")
    if kind == "text" and not block.get("text"):
        return None
    if kind == "thinking" and not block.get("signature"):
        return None
    if kind == "compaction" and not block.get("content"):  # a failed summary: nothing to send
        return None
    cites = block.get("citations") if kind == "text" else None
    if isinstance(cites, list) and any(_cites_search_result(c) for c in cites):
        # A request carries only its own question's passages (projects/retrieval.py): an earlier
        # answer's search_result_index would point at a passage this request does not have.
        kept = [c for c in cites if not _cites_search_result(c)]
        return {k: v for k, v in block.items() if k != "citations"} | ({"citations": kept} if kept else {})
    return block


def _cites_search_result(citation) -> bool:
    return isinstance(citation, dict) and citation.get("type") == "search_result_location"


def since_summary(turns: list[Turn]) -> list[Turn]:
    """The turns from the newest one that starts with a summary of the conversation before it (a
    `compaction` block: claude/compaction.py): the API requires it to open the conversation, and
    what it summarized is not sent again."""
    for index in range(len(turns) - 1, -1, -1):
        if turns[index].blocks and turns[index].blocks[0]["type"] == "compaction":
            return turns[index:]
    return turns


def build_messages(turns: Iterable[Turn], offered: set[str] | None = None) -> list[dict]:
    """Alternating user/assistant messages starting with `user`, or with the reply that summarized
    the conversation before it (since_summary).

    Turns left empty (a reply that failed before any output) disappear, and neighbours with the
    same role are merged, so a failed reply never breaks alternation. A tool_use whose result never
    came (a reply stopped mid-loop) is dropped, and so is a result without its call; so is a
    server tool's call without its result, but in the last turn (a paused turn resumes with it).
    With `offered` (the tools this request defines), other tools' calls and results become text.
    """
    turns = [Turn(t.role, [b for b in map(replayable_block, t.blocks) if b is not None]) for t in turns]
    turns = since_summary(turns)
    results = {b["tool_use_id"] for t in turns for b in t.blocks if "tool_use_id" in b}
    calls = {b["id"] for t in turns if t.role == "assistant" for b in t.blocks if b["type"] == "tool_use"}
    names = _tools_of_calls(turns)
    messages: list[dict] = []
    for position, turn in enumerate(turns, start=1):
        content = [
            b
            for b in turn.blocks
            if not (b["type"] == "tool_use" and b["id"] not in results)
            and not (b["type"] == "tool_result" and b["tool_use_id"] not in calls)
            and not (_is_server_call(b) and b["id"] not in results and position < len(turns))
        ]
        if offered is not None:
            content = [_as_text(b, offered, names) for b in content]
        if not content:
            continue
        if not messages and turn.role != "user" and content[0]["type"] != "compaction":
            continue
        if messages and messages[-1]["role"] == turn.role:
            messages[-1]["content"].extend(content)
        else:
            messages.append({"role": turn.role, "content": content})
    if messages and messages[-1]["role"] == "assistant":
        _strip_prefill(messages)
    return messages


def _is_server_call(block: dict) -> bool:
    """A call the API runs itself (web search, code execution): its result comes in the same turn."""
    return block["type"] != "tool_use" and blocks.kind_of(block).is_call


def _tools_of_calls(turns: list[Turn]) -> dict[str, str]:
    """Call id -> the name of the tool it belongs to (as the request's `tools` name it): a
    connector's call belongs to its server's toolset."""
    return {
        b["id"]: b.get("server_name") or (code.TOOL if b["name"] in code.CALLS else b["name"])
        for t in turns
        for b in t.blocks
        if blocks.kind_of(b).is_call
    }


def _as_text(block: dict, offered: set[str], names: dict[str, str]) -> dict:
    """A tool block as text when this request does not define its tool (the user turned it off):
    the API refuses calls and results of tools a request does not define ("Requests which include
    tool_use or tool_result blocks must define tools"), and the model still reads what happened
    (each kind's `as_text`, blocks/). A text block citing web search results loses the citations
    once web search is off."""
    kind = blocks.kind_of(block)
    if block["type"] == "text":
        cites = block.get("citations") or []
        if "web_search" not in offered and any(c.get("type") == "web_search_result_location" for c in cites):
            return {k: v for k, v in block.items() if k != "citations"}
        return block
    if kind.as_text is None:
        return block
    tool = names.get(block["id"], block.get("name")) if kind.is_call else names.get(block["tool_use_id"])
    if tool in offered:
        return block
    return {"type": "text", "text": kind.as_text(block, tool)}


def _strip_prefill(messages: list[dict]) -> None:
    """A final assistant turn (continuing a cut-off reply) must not end in whitespace."""
    content = messages[-1]["content"]
    if content[-1]["type"] == "text":
        text = content[-1]["text"].rstrip()
        if text:
            content[-1] = {**content[-1], "text": text}
        else:
            content.pop()
    if not content:
        messages.pop()


def cache_control(ttl: str = "5m") -> dict:
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def build_request(
    *,
    turns: Iterable[Turn],
    model: str,
    max_tokens: int,
    user_id: str,
    prompt: PinnedPrompt | None = None,
    options: dict | None = None,
    knowledge: list[dict] | None = None,
    passages: list[dict] | None = None,
) -> dict:
    """The keyword arguments for `messages.create`, minus `stream`.

    `options` are the validated per-conversation extras (thinking, effort, tools, ...).
    `knowledge`: a project's files (projects/knowledge.py), first in the first user turn, with a
    breakpoint after them (1 hour, unless the prompt before them is cached for 5 minutes: the API
    refuses a 1-hour breakpoint after a 5-minute one).
    `passages`: instead of knowledge too big to send, what matches the question (with_passages).
    """
    offered = {tool.get("name") or tool["mcp_server_name"] for tool in (options or {}).get("tools", [])}
    messages = build_messages(turns, offered)
    users = [m for m in messages if m["role"] == "user"]
    if users:
        last = users[-1]["content"]
        last[-1] = {**last[-1], "cache_control": cache_control()}
    first = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    if knowledge and first is not None:  # after a summary (since_summary) too: it opens the request
        ttl = prompt.cache_ttl if prompt is not None else "1h"
        marked = [*knowledge[:-1], {**knowledge[-1], "cache_control": cache_control(ttl)}]
        messages[first] = {**messages[first], "content": marked + messages[first]["content"]}
    messages = with_passages(messages, passages or [])
    request: dict = {"model": model, "max_tokens": max_tokens, **(options or {})}
    if prompt is not None:
        request["system"] = [
            {"type": "text", "text": prompt.text, "cache_control": cache_control(prompt.cache_ttl)}
        ]
    request["messages"] = messages
    request["metadata"] = {"user_id": user_id}
    assert count_breakpoints(request) <= MAX_BREAKPOINTS
    return request


def with_passages(messages: list[dict], passages: list[dict]) -> list[dict]:
    """`passages` (a project's `search_result` blocks matching the question: projects/retrieval.py)
    after the question in its turn: the newest user message that is not only tool results. Added
    after the rolling breakpoint, so it stays on the question's own last block, and the next turn,
    which carries other passages, still reads everything before them from the cache."""
    if not passages:
        return messages
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message["role"] == "user" and any(b["type"] != "tool_result" for b in message["content"]):
            return [
                *messages[:index],
                {**message, "content": message["content"] + passages},
                *messages[index + 1 :],
            ]
    return messages


def count_breakpoints(request: dict) -> int:
    blocks = list(request.get("system", []))
    for message in request["messages"]:
        blocks.extend(message["content"])
    return sum("cache_control" in block for block in blocks)


# --- file references: a Files API file_id is readable by anyone with the key, so a request may
# carry only the ids of files its conversation's owner has (reply_request.py, exporting.py).

FILE_LEFT_OUT = "[A file that is not yours was left out.]"


def file_ids_in(value) -> set[str]:
    """Every Files API id referenced in `value`, at any depth: a block's `{"type": "file"}`
    source (an image or document, in a turn or in a tool's result) or an item carrying its own
    `file_id` (the files code execution made, a container upload)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if (file_id := _file_id(item)) is not None:
                found.add(file_id)
            stack.extend(item.values())
    return found


def without_files(value, keep: set[str]):
    """`value` with every reference to a file not in `keep` left out: an image becomes a text
    block saying so, a document keeps its place with that text as its content (a web fetch's
    result must hold a document), and an item that is a file (an output of code) is dropped.
    Returns `value` itself when it refers to no other file."""
    if file_ids_in(value) <= keep:
        return value
    kept = _without(value, keep)
    return {"type": "text", "text": FILE_LEFT_OUT} if kept is _DROPPED else kept


_DROPPED = object()


def _file_id(item: dict) -> str | None:
    source = item.get("source")
    if isinstance(source, dict) and source.get("type") == "file" and "file_id" in source:
        return str(source["file_id"])
    if "type" in item and "file_id" in item:
        return str(item["file_id"])
    return None


def _without(value, keep: set[str]):
    if isinstance(value, list):
        return [kept for item in value if (kept := _without(item, keep)) is not _DROPPED]
    if not isinstance(value, dict):
        return value
    file_id = _file_id(value)
    if file_id is not None and file_id not in keep:
        if "source" not in value:
            return _DROPPED
        if value.get("type") == "document":
            text = {"type": "text", "media_type": "text/plain", "data": FILE_LEFT_OUT}
            return {**value, "source": text}
        return {"type": "text", "text": FILE_LEFT_OUT}
    return {key: kept for key, item in value.items() if (kept := _without(item, keep)) is not _DROPPED}
