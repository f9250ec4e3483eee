"""Kinds of connectors (conversations/claude/mcp.py): a connector tool's call and its result, run by
the API against the MCP server and replayed verbatim; the tool search that finds deferred tools;
and our own approval request, asked before a tool that writes may run."""

import json

from conversations.blocks.kind import (
    CALL,
    SERVER_CALL,
    Kind,
    call_text,
    fenced,
    input_of,
    md_code,
    md_text,
    result_text,
)

APPROVAL_TOOL = "ask_approval"  # ours: Claude asks the person before a tool that writes
TOOL_SEARCH = "tool_search_tool_bm25"  # the API's tool search, over deferred connector tools


def _call_markdown(block: dict, sources) -> str:
    code = fenced(json.dumps(block.get("input"), indent=2, ensure_ascii=False), "json")
    return f"Connector {md_code(block.get('server_name'))}, tool {md_code(block.get('name'))}:\n\n{code}"


def result_text_of(block: dict) -> str:
    """A connector result's text: a string, or its text blocks joined."""
    content = block.get("content")
    if isinstance(content, str):
        return content
    items = content if isinstance(content, list) else []
    return "\n".join(str(i.get("text", "")) for i in items if isinstance(i, dict))


def _result_markdown(block: dict, sources) -> str:
    label = "Connector error" if block.get("is_error") else "Connector result"
    return f"{label}:\n\n{fenced(result_text_of(block))}"


def _approval_markdown(block: dict, sources) -> str:
    value = input_of(block)
    asked = f"{md_code(value.get('server'))} / {md_code(value.get('tool'))}"
    code = fenced(json.dumps(value.get("input"), indent=2, ensure_ascii=False), "json")
    return f"Asked to run {asked}: {md_text(value.get('why'))}\n\n{code}"


def _search_markdown(block: dict, sources) -> str:
    return f"*Searched tools: {md_text(input_of(block).get('query'))}*"


def found_tools(block: dict) -> list[str]:
    """The tool names a tool search result found."""
    content = block.get("content")
    refs = content.get("tool_references") if isinstance(content, dict) else None
    return [r["tool_name"] for r in refs or [] if isinstance(r, dict) and isinstance(r.get("tool_name"), str)]


def _found_markdown(block: dict, sources) -> str:
    names = found_tools(block)
    return f"*Found: {', '.join(md_code(n) for n in names)}*" if names else "*Found no tools*"


KINDS = (
    Kind(
        "tool_use",
        CALL,
        partial="approval",
        label="Approval request",
        markdown=_approval_markdown,
        streams="input",
        as_text=call_text,
        is_call=True,
        matches=lambda block: block.get("name") == APPROVAL_TOOL,
    ),
    Kind(
        "mcp_tool_use",
        CALL | {"server_name": str},
        partial="mcp_call",
        label="Connector call",
        markdown=_call_markdown,
        streams="input",
        as_text=call_text,
        is_call=True,
    ),
    Kind(
        "mcp_tool_result",
        {"tool_use_id": str, "content": (str, list)},
        partial="mcp_result",
        label="Connector result",
        markdown=_result_markdown,
        as_text=result_text,
        replayed=True,
    ),
    Kind(
        SERVER_CALL,
        CALL,
        partial="tool_search",
        label="Tool search",
        markdown=_search_markdown,
        streams="input",
        as_text=call_text,
        is_call=True,
        matches=lambda block: str(block.get("name", "")).startswith("tool_search_tool"),
    ),
    Kind(
        "tool_search_tool_result",
        {"tool_use_id": str, "content": dict},
        partial="tool_search_result",
        label="Tools found",
        markdown=_found_markdown,
        as_text=result_text,
        replayed=True,
    ),
)
