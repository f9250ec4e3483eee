"""The fake Messages API's MCP connector: the pretend MCP servers a test declares, the request's
``mcp_servers`` and ``mcp_toolset`` tools checked as the API checks them, and scripted MCP calls.

A test declares what a pretend server holds, keyed by its URL::

    fake.mcp_server("https://mcp.example/sse", tools=[{"name", "description", "input_schema"}],
                    results={"lookup": "text" | ToolError("text") | callable(input) -> either},
                    token="expected-token" | None, reachable=True)

and scripts a call in a ``GroundedReply``: ``McpCall(server_name, tool, input)``, where
``server_name`` is the name the request gives the server in ``mcp_servers``. It streams as the real
API streams it (shapes from anthropic 2.12's types): an ``mcp_tool_use`` block (id ``mcptoolu_...``,
name, server_name, input ``{}``) whose input arrives in ``input_json_delta`` pieces, then an
``mcp_tool_result`` block sent whole (tool_use_id, is_error, content: a list of text blocks) holding
the declared result for that tool (is_error for a ``ToolError``). MCP calls are not counted in
``usage.server_tool_use``: the SDK's BetaServerToolUsage counts only web searches and fetches.

Checked before any script is used, each refused with a 400 invalid_request_error:

* ``mcp_servers`` or an ``mcp_toolset`` without the ``mcp-client-2025-11-20`` beta header;
* a server that is not ``{"type": "url", "name", "url"}`` with an ``https://`` URL (as documented),
  two servers of one name, a toolset naming no server of the request, and a server not referenced
  by exactly one toolset (documented: "Must be referenced by exactly one MCPToolset");
* a server that cannot be reached: ``Connection error while communicating with MCP server 'NAME'.``
  (the real API's message, reported in anthropic-sdk-typescript#1027, as a 400 for the whole
  request; the real one does not say which server: the fake adds the name). A URL no test declared
  cannot be reached either: the fake never connects anywhere;
* a token the server refuses (missing or not the declared one; a server declared without a token
  takes any): ``Invalid authorization token for MCP server 'NAME'. Please check your token and try
  again.`` (the real API's 400, reported in anthropic-sdk-python#1029).

The API asks each server for its tools before sampling, which is when those two errors arise. A
toolset that pins its listing (``tools``) is not asked then (the SDK's documentation of the field);
the fake decides that its server is first reached at a call, whose ``mcp_tool_result`` then carries
the same message with ``is_error`` true. The response never carries ``mcp_tool_listing`` blocks: they
come with a later beta than ``mcp-client-2025-11-20``.

A toolset's tools are its server's listing with ``default_config`` and then ``configs`` applied
(``enabled`` true and ``defer_loading`` false unless set). A call of a disabled tool is never made:
the fake answers in text instead, "I cannot use TOOL on SERVER: it is not available." Input tokens:
each tool a toolset loads adds ceil(len(name + description + JSON of input_schema) / 4): its
enabled tools that are not deferred, and the deferred ones a tool search found (fakes/tool_search.py)
earlier in the conversation or in this reply. The request's own tools count as before (in the
prompt cache's prefix only, fakes/tokens.py), deferred or not.

Script mistakes (the real API never does that) answer a 500 naming them: a call of a server or tool
the request does not have, of a deferred tool before a search found it, or of a tool whose server
declares no result for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from fakes.tool_search import ToolSearch, found_before, resolve
from fakes.wire import new_id

MCP_BETA = "mcp-client-2025-11-20"
TOKEN_ADVICE = "Please check your token and try again."


@dataclass
class ToolError:
    """A result the MCP server reports as an error (the call's ``is_error`` is true)."""

    text: str


Result = str | ToolError | Callable[[dict[str, Any]], str | ToolError]


@dataclass
class McpServer:
    url: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)
    token: str | None = None  # None: any token, or none, is accepted
    reachable: bool = True


@dataclass
class McpCall:
    server: str  # the name the request gives the server in mcp_servers
    tool: str
    input: dict[str, Any] = field(default_factory=dict)
    _: KW_ONLY
    id: str = ""
    # Set by the fake when it answers:
    result: str = ""
    is_error: bool = False
    disabled: bool = False  # the toolset leaves the tool disabled: answered in text instead

    def blocks(self) -> list[dict[str, Any]]:
        if self.disabled:
            text = f"I cannot use {self.tool} on {self.server}: it is not available."
            return [{"type": "text", "text": text}]
        self.id = self.id or new_id("mcptoolu_")
        call = {"type": "mcp_tool_use", "id": self.id, "name": self.tool, "server_name": self.server}
        result = {
            "type": "mcp_tool_result",
            "tool_use_id": self.id,
            "is_error": self.is_error,
            "content": [{"type": "text", "text": self.result}],
        }
        return [{**call, "input": self.input}, result]


class McpServers:
    """The pretend servers by URL (``fake.mcp``), and what the API does with them for a request."""

    def __init__(self) -> None:
        self.by_url: dict[str, McpServer] = {}

    def server(
        self,
        url: str,
        *,
        tools: list[dict[str, Any]] | None = None,
        results: dict[str, Result] | None = None,
        token: str | None = None,
        reachable: bool = True,
    ) -> McpServer:
        """Declare (or replace) the pretend server at ``url``."""
        declared = McpServer(url, list(tools or []), dict(results or {}), token, reachable)
        self.by_url[url] = declared
        return declared

    def reset(self) -> None:
        self.by_url.clear()

    def request_error(self, body: dict[str, Any], betas: list[str]) -> str | None:
        """The 400's message for the request's MCP servers and toolsets, or None."""
        servers, toolsets = body.get("mcp_servers", []), _toolsets(body)
        if not servers and not toolsets:
            return None
        if MCP_BETA not in betas:
            return f"mcp_servers and mcp_toolset tools need the anthropic-beta header {MCP_BETA}."
        if mistake := _shape_error(servers, toolsets):
            return mistake
        for definition in servers:
            pinned = _toolset(body, definition["name"]).get("tools") is not None
            if not pinned and (refused := self._refusal(definition)):
                return refused
        return None

    def _refusal(self, definition: dict[str, Any]) -> str | None:
        declared, name = self.by_url.get(definition["url"]), definition["name"]
        if declared is None or not declared.reachable:
            return f"Connection error while communicating with MCP server '{name}'."
        if declared.token is not None and definition.get("authorization_token") != declared.token:
            return f"Invalid authorization token for MCP server '{name}'. {TOKEN_ADVICE}"
        return None

    def _listing(self, definition: dict[str, Any], toolset: dict[str, Any]) -> list[dict[str, Any]]:
        if toolset.get("tools") is not None:
            return list(toolset["tools"])
        declared = self.by_url.get(definition["url"])
        return declared.tools if declared else []

    def toolset_tools(self, body: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, bool]]]:
        """Every tool of the request's toolsets with its config (enabled, defer_loading)."""
        found = []
        for definition in _servers(body):
            toolset = _toolset(body, definition["name"])
            found += [(tool, _config(toolset, tool["name"])) for tool in self._listing(definition, toolset)]
        return found

    def deferred_tools(self, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The request's deferred tools by name: its toolsets' and its own `defer_loading` tools."""
        deferred = {t["name"]: t for t, c in self.toolset_tools(body) if c["enabled"] and c["defer_loading"]}
        for tool in body.get("tools") or []:
            if isinstance(tool, dict) and tool.get("defer_loading") and isinstance(tool.get("name"), str):
                deferred[tool["name"]] = tool
        return deferred

    def tool_tokens(self, body: dict[str, Any], parts: list[Any]) -> int:
        """Input tokens of the tools the API loads: the toolsets' enabled tools that are not deferred,
        and the deferred tools a search found (before this request, or in the reply's `parts`)."""
        found = found_before(body) | {n for p in parts if isinstance(p, ToolSearch) for n in p.found or []}
        loaded = [
            tool
            for tool, config in self.toolset_tools(body)
            if config["enabled"] and (not config["defer_loading"] or tool["name"] in found)
        ]
        return sum(tool_definition_tokens(tool) for tool in loaded)

    def answer(self, parts: list[Any], body: dict[str, Any]) -> str | None:
        """Complete the reply's tool searches and MCP calls, in order; the script's mistake, if any."""
        found, deferred = found_before(body), self.deferred_tools(body)
        for part in parts:
            if isinstance(part, ToolSearch):
                if mistake := resolve(part, body, deferred):
                    return mistake
                found |= set(part.found or [])
            elif isinstance(part, McpCall) and (mistake := self._call(part, body, found)):
                return mistake
        return None

    def _call(self, call: McpCall, body: dict[str, Any], found: set[str]) -> str | None:
        definition = next((s for s in _servers(body) if s["name"] == call.server), None)
        if definition is None:
            return f"the script calls MCP server {call.server!r}; the request has none of that name"
        toolset = _toolset(body, call.server)
        if call.tool not in {tool["name"] for tool in self._listing(definition, toolset)}:
            return f"the script calls {call.tool!r}, which MCP server {call.server!r} does not list"
        config = _config(toolset, call.tool)
        if not config["enabled"]:
            call.disabled = True
            return None
        if config["defer_loading"] and call.tool not in found:
            return f"the script calls the deferred tool {call.tool!r} before a tool search found it"
        if refused := self._refusal(definition):  # a pinned listing: the server is first asked now
            call.result, call.is_error = refused, True
            return None
        results = self.by_url[definition["url"]].results
        if call.tool not in results:
            return f"the MCP server at {definition['url']} declares no result for {call.tool!r}"
        outcome = results[call.tool]
        outcome = outcome(call.input) if callable(outcome) else outcome
        call.is_error = isinstance(outcome, ToolError)
        call.result = outcome.text if isinstance(outcome, ToolError) else outcome
        return None


def tool_definition_tokens(tool: dict[str, Any]) -> int:
    text = str(tool.get("name", "")) + str(tool.get("description") or "")
    return math.ceil(len(text + json.dumps(tool.get("input_schema", {}), sort_keys=True)) / 4)


def _servers(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's well-formed server definitions (count_tokens is not refused for the others)."""
    servers = body.get("mcp_servers")
    listed = servers if isinstance(servers, list) else []
    return [s for s in listed if isinstance(s, dict) and isinstance(s.get("name"), str) and "url" in s]


def _toolsets(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    listed = tools if isinstance(tools, list) else []
    return [t for t in listed if isinstance(t, dict) and t.get("type") == "mcp_toolset"]


def _toolset(body: dict[str, Any], server: str) -> dict[str, Any]:
    return next((t for t in _toolsets(body) if t.get("mcp_server_name") == server), {})


def _config(toolset: dict[str, Any], tool: str) -> dict[str, bool]:
    """The tool's config: `configs[tool]` over `default_config` over enabled and not deferred."""
    default = {"enabled": True, "defer_loading": False, **(toolset.get("default_config") or {})}
    return {**default, **((toolset.get("configs") or {}).get(tool) or {})}


def _shape_error(servers: Any, toolsets: list[dict[str, Any]]) -> str | None:
    """The 400's message for malformed mcp_servers, or toolsets that do not pair with them."""
    if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
        return "mcp_servers: Input should be a valid list of MCP server definitions"
    for index, server in enumerate(servers):
        if server.get("type") != "url":
            return f"mcp_servers.{index}.type: Input should be 'url'"
        if not isinstance(server.get("name"), str) or not server["name"]:
            return f"mcp_servers.{index}.name: Field required"
        if not isinstance(server.get("url"), str) or not server["url"].startswith("https://"):
            return (
                f"mcp_servers.{index}.url: the URL of MCP server '{server['name']}' must start with https://"
            )
    names = [server["name"] for server in servers]
    for name in names:
        if names.count(name) > 1:
            return f"mcp_servers: more than one MCP server is named '{name}'"
    referenced = [toolset.get("mcp_server_name") for toolset in toolsets]
    for name in referenced:
        if name not in names:
            return f"mcp_toolset: MCP server '{name}' is not defined in mcp_servers"
    for name in names:
        if referenced.count(name) != 1:
            count = referenced.count(name)
            return f"MCP server '{name}' must be referenced by exactly one mcp_toolset (found {count})"
    return None
