"""The fake Messages API's tool search: a scripted search of the request's deferred tools.

``ToolSearch(query)`` in a ``GroundedReply`` streams as the real API streams the server tool
(shapes from anthropic 2.12's types): a ``server_tool_use`` block named after the request's tool
search tool (``tool_search_tool_bm25``: input ``{"query"}``; ``tool_search_tool_regex``: input
``{"pattern"}``, as the API's examples show), its input in ``input_json_delta`` pieces, then a
``tool_search_tool_result`` sent whole, whose ``content`` is a ``tool_search_tool_search_result``
listing ``tool_reference`` blocks, or a ``tool_search_tool_result_error`` when ``error_code`` is set.

What it finds: the names given in ``found``, each of which must be a deferred tool of the request;
left None, the fake searches the request's deferred tools itself (regex: ``re.search`` over name
and description, case-insensitive; BM25: any query word in name or description). The request's
deferred tools are its ``defer_loading`` tools and its MCP toolsets' deferred tools (fakes/mcp.py).
An MCP tool is referenced by its name as the server lists it (the docs are silent; decided so).

No beta header is needed: anthropic 2.12 lists none for tool search (its first beta,
``advanced-tool-use-2025-11-20``, is gone from the SDK's list). A search is not counted in
``usage.server_tool_use``, whose type (BetaServerToolUsage) counts only web searches and fetches.
"""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass
from typing import Any

from fakes.wire import new_id

SEARCH_TOOLS = {"tool_search_tool_bm25": "query", "tool_search_tool_regex": "pattern"}


@dataclass
class ToolSearch:
    query: str
    found: list[str] | None = None  # None: the fake searches the request's deferred tools
    _: KW_ONLY
    error_code: str | None = None  # e.g. "unavailable": an error object instead of references
    id: str = ""
    tool: str = ""  # set by the fake: the request's tool search tool

    def blocks(self) -> list[dict[str, Any]]:
        self.id = self.id or new_id("srvtoolu_")
        name = self.tool or "tool_search_tool_bm25"
        call = {
            "type": "server_tool_use",
            "id": self.id,
            "name": name,
            "input": {SEARCH_TOOLS[name]: self.query},
            "caller": {"type": "direct"},
        }
        content: dict[str, Any] = {
            "type": "tool_search_tool_search_result",
            "tool_references": [{"type": "tool_reference", "tool_name": n} for n in self.found or []],
        }
        if self.error_code:
            content = {"type": "tool_search_tool_result_error", "error_code": self.error_code}
        return [call, {"type": "tool_search_tool_result", "tool_use_id": self.id, "content": content}]


def search_tool(body: dict[str, Any]) -> str | None:
    """The name of the request's tool search tool, or None."""
    for tool in body.get("tools") or []:
        kind = str(tool.get("type", "")) if isinstance(tool, dict) else ""
        for name in SEARCH_TOOLS:
            if kind.startswith(name):
                return name
    return None


def found_before(body: dict[str, Any]) -> set[str]:
    """The tools earlier searches in the conversation found: the tool references in its server tool
    search results and in tool results (a client-side search answers with them too)."""
    found: set[str] = set()
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            inner = block.get("content")
            if block.get("type") == "tool_search_tool_result" and isinstance(inner, dict):
                inner = inner.get("tool_references")
            if block.get("type") in ("tool_search_tool_result", "tool_result") and isinstance(inner, list):
                found |= {
                    str(ref.get("tool_name"))
                    for ref in inner
                    if isinstance(ref, dict) and ref.get("type") == "tool_reference"
                }
    return found


def resolve(search: ToolSearch, body: dict[str, Any], deferred: dict[str, dict[str, Any]]) -> str | None:
    """Complete the search from the request (its tool, what it finds); the script's mistake, if any."""
    tool = search_tool(body)
    if tool is None:
        return "the script searches tools; the request has no tool search tool"
    search.tool = tool
    if search.found is None:
        search.found = _matching(search.query, tool, deferred)
    unknown = [name for name in search.found if name not in deferred]
    if unknown:
        return f"the script's tool search finds {unknown[0]!r}, which is not a deferred tool of the request"
    return None


def _matching(query: str, tool: str, deferred: dict[str, dict[str, Any]]) -> list[str]:
    def text(definition: dict[str, Any]) -> str:
        return f"{definition.get('name', '')} {definition.get('description') or ''}".lower()

    if tool == "tool_search_tool_regex":
        pattern = re.compile(query, re.IGNORECASE)
        return [name for name, d in deferred.items() if pattern.search(text(d))]
    words = query.lower().split()
    return [name for name, d in deferred.items() if any(w in text(d) for w in words)]
