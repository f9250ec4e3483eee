"""Long conversations: the API's own context management instead of dropping history.

Where the model supports it (the capability table, and the API's model list when it says:
`capabilities.context_management.compact_20260112`), and `CHAT_COMPACTION` is on, every request
carries the compaction edit with its trigger at `CHAT_COMPACTION_TRIGGER` of the model's input
limit. Over it, the API summarizes the conversation so far into a `compaction` block at the start
of its answer; that block is stored like any other (blocks/text.py) and sent back verbatim, and a
later request starts from the reply that holds it (anthropic_request.build_messages), as the API
requires. The page shows a quiet "Earlier messages were summarized" that opens the summary; the
whole history stays on the page and in search.

Chats with tools (web search, code execution, memory, the app's own) also carry the
`clear_tool_uses_20250919` edit, so old tool results make room before the conversation is
summarized; a reply whose request had results cleared says so.

Where compaction is unavailable (the embedded model, older models, CHAT_COMPACTION=0) the oldest
turns are still left out to fit (context_window.py), and the reply says the model no longer sees them.
"""

from django.conf import settings

from conversations.claude import catalog
from conversations.claude.capabilities import Capabilities

EDIT = "compact_20260112"
BETA = "compact-2026-01-12"
CLEAR_EDIT = "clear_tool_uses_20250919"
CLEAR_BETA = "context-management-2025-06-27"
KEEP_TOOL_USES = 3  # the newest tool calls keep their results


def offered(model: str, caps: Capabilities) -> bool:
    if not settings.CHAT_COMPACTION or settings.CHAT_USE_LOCAL_MODEL or catalog.listed_without(model, EDIT):
        return False
    return caps.compaction or catalog.listed_with(model, EDIT)


def trigger(model: str, context_1m: bool = False) -> int:
    """Input tokens past which the API summarizes: a share of the model's input limit."""
    return int(catalog.input_limit(model, context_1m) * settings.CHAT_COMPACTION_TRIGGER)


def request_options(model: str, caps: Capabilities, options: dict, context_1m: bool = False) -> dict:
    """`options` (request keyword arguments) with the context edits, and the betas they need."""
    if not offered(model, caps):
        return options
    at = {"type": "input_tokens", "value": trigger(model, context_1m)}
    edits = [{"type": EDIT, "trigger": at}]
    betas = [BETA]
    if options.get("tools"):
        clear_at = {"type": "input_tokens", "value": at["value"] // 2}
        edits.insert(
            0,
            {"type": CLEAR_EDIT, "trigger": clear_at, "keep": {"type": "tool_uses", "value": KEEP_TOOL_USES}},
        )
        betas.insert(0, CLEAR_BETA)
    return {**options, "context_management": {"edits": edits}, "betas": [*options.get("betas", []), *betas]}


def cleared_tool_uses(context_management) -> int:
    """How many tool uses the API cleared from a request, from its response's
    `context_management.applied_edits` (a message_delta's, when it has one)."""
    edits = getattr(context_management, "applied_edits", None) or []
    return sum(
        getattr(edit, "cleared_tool_uses", 0) or 0
        for edit in edits
        if getattr(edit, "type", "") == CLEAR_EDIT
    )
