"""Claude's client-side `memory` tool (`memory_20250818`, the SDK's MemoryTool20250818Param),
offered in the chats of people who turned memory on (the memory app stores their notes).

Offered when the instance allows it (CHAT_MEMORY), the person turned it on (the Memory page) and
the model takes tools; independent of the conversation's built-in tools switch, since it is a
per-person choice. Its calls run in the reply's tool loop like any client tool, so they are
stored, shown, and seen in staff review as tool calls; a refused path is an `is_error` result.
"""

import logging

from conversations.claude.capabilities import Capabilities
from memory import store

log = logging.getLogger(__name__)

NAME = "memory"
TOOL = {"type": "memory_20250818", "name": NAME}


def with_memory(options: dict, user_id: int, caps: Capabilities) -> dict:
    """The request options, with the memory tool added to `tools` when this person has it."""
    if not caps.tools or not store.is_enabled(user_id):
        return options
    return {**options, "tools": [*options.get("tools", []), TOOL]}


def run(tool_input: dict, user_id: int) -> tuple[str, bool]:
    """(result text, is_error) of one call, on the caller's own /memories only."""
    if not store.is_enabled(user_id):
        return "The memory tool is turned off for this person.", True
    try:
        return store.run(user_id, tool_input)
    except Exception as exc:  # e.g. two replies renaming at once: the model reads it and goes on
        log.exception("memory tool call failed")
        return f"memory failed: {type(exc).__name__}; try again.", True
