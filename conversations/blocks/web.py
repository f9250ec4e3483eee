"""Kinds of Claude's web tools (conversations/claude/web.py): a search or fetch call, and the
results the API sends back, replayed verbatim in later turns. Titles and URLs from the web are
shown as escaped text; only http(s) URLs become links."""

from conversations.blocks.kind import (
    CALL,
    SERVER_CALL,
    Kind,
    call_text,
    content_of,
    input_of,
    md_text,
    md_url,
    result_text,
)

TOOLS = ("web_search", "web_fetch")


def _call_markdown(block: dict, sources) -> str:
    value = input_of(block)
    if block.get("name") == "web_search":
        return f"*Searched: {md_text(value.get('query'))}*"
    return f"*Read: {md_url(value.get('url'))}*"


def _failed(block: dict) -> str:
    what = "search" if block["type"] == "web_search_tool_result" else "fetch"
    return f"*[Web {what} failed: {md_text(content_of(block)['error_code'])}]*"


def _search_markdown(block: dict, sources) -> str:
    if "error_code" in content_of(block):
        return _failed(block)
    content = block.get("content")
    results = [r for r in content if isinstance(r, dict)] if isinstance(content, list) else []
    return "\n".join(f"- {md_text(r.get('title') or r.get('url'))} — {md_url(r.get('url'))}" for r in results)


def _fetch_markdown(block: dict, sources) -> str:
    # The call above already says what was read.
    return _failed(block) if "error_code" in content_of(block) else ""


KINDS = (
    Kind(
        SERVER_CALL,
        CALL,
        partial="web_call",
        label="Web search",
        markdown=_call_markdown,
        streams="input",
        as_text=call_text,
        is_call=True,  # also any other server tool's call (after code execution's, in the registry)
    ),
    Kind(
        "web_search_tool_result",
        {"tool_use_id": str, "content": (list, dict)},
        partial="web_search_result",
        label="Search results",
        markdown=_search_markdown,
        as_text=result_text,
        replayed=True,
    ),
    Kind(
        "web_fetch_tool_result",
        {"tool_use_id": str, "content": dict},
        partial="web_fetch_result",
        label="Page read",
        markdown=_fetch_markdown,
        as_text=result_text,
        replayed=True,
    ),
)
