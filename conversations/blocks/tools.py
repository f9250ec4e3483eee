"""Kinds of the app's own tools (conversations/claude/tools.py, memory): a call, and its result."""

import json

from conversations.blocks.kind import CALL, Kind, call_text, fenced, md_code, result_text


def _call_markdown(block: dict, sources) -> str:
    code = fenced(json.dumps(block["input"], indent=2, ensure_ascii=False), "json")
    return f"Tool call {md_code(block['name'])}:\n\n{code}"


def _result_markdown(block: dict, sources) -> str:
    content = block["content"] if isinstance(block["content"], str) else json.dumps(block["content"])
    return f"Tool result:\n\n{fenced(content)}"


KINDS = (
    Kind(
        "tool_use",
        CALL,
        partial="tool_use",
        label="Tool call",
        markdown=_call_markdown,
        streams="input",
        as_text=call_text,
        is_call=True,
    ),
    Kind(
        "tool_result",
        {"tool_use_id": str, "content": (str, list)},
        partial="tool_result",
        label="Tool result",
        markdown=_result_markdown,
        as_text=result_text,
    ),
)
