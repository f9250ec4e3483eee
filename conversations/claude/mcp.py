"""Connectors: remote MCP servers the API connects to itself (its MCP connector, a beta). This app
runs no MCP client and no sandbox of its own.

Which: those the chat's team uses (its project's team, else its prompt's: selectors.team_of), as its
owners chose them (connectors/), that the person switched on in the composer. One that wants each
person's own token is offered once they added it on the Connectors page; a personal chat (no team)
has none. The request: one `mcp_servers` entry per connector, with the shared token or the chat
owner's own (never anyone else's), and an `mcp_toolset` in `tools` that enables only the tools the
team chose. Over CHAT_CONNECTOR_DEFER_OVER tools in all, they load deferred and the API's tool
search finds them, so the request stays small.

Tools that write ask first. They stay disabled, and our own tool, `ask_approval`, lets Claude ask
the person: the reply waits (`answer`) until they press Approve or Deny in the page. Approved, the
tool is enabled in that reply's next request, for one call; denied, Claude reads the reason.

A connector the API cannot reach, or whose token it refuses, fails the request with an error that
blames it (`failed_connectors`): the reply goes on without it and says so (`connector_errors`).
"""

import asyncio
import json

from asgiref.sync import sync_to_async
from django.conf import settings

from conversations import selectors, services
from conversations.blocks.kind import input_of
from conversations.blocks.mcp import APPROVAL_TOOL, TOOL_SEARCH
from conversations.claude.capabilities import Capabilities
from conversations.claude.params import ChatParams
from conversations.connectors import selectors as connectors
from conversations.connectors.selectors import ConnectorUse
from conversations.models import Conversation

BETA = "mcp-client-2025-11-20"
TOOL_SEARCH_TOOL = {"type": "tool_search_tool_bm25_20251119", "name": TOOL_SEARCH}
POLL_SECONDS = 0.5


def available(conversation: Conversation, caps: Capabilities) -> list[ConnectorUse]:
    """The connectors this chat's composer shows (some may still want the person's token)."""
    return for_team(selectors.team_of(conversation), conversation.owner_id, caps)


def for_team(team_id: int | None, user_id: int, caps: Capabilities) -> list[ConnectorUse]:
    """The team's connectors for this person, where the instance and the model allow them."""
    if not (settings.CHAT_CONNECTORS and caps.tools):
        return []
    return connectors.for_team(team_id, user_id)


def chosen(conversation: Conversation, params: ChatParams, caps: Capabilities) -> list[ConnectorUse]:
    """The connectors the next request sends: switched on, still used by the team, token in hand."""
    if not params.connectors:
        return []
    return [u for u in available(conversation, caps) if u.name in params.connectors and not u.missing_token]


def request_options(uses: list[ConnectorUse], own_blocks: list[dict]) -> dict:
    """`mcp_servers`, the tools (toolsets, tool search, ask_approval) and the beta, for `uses`.
    `own_blocks`: the reply's blocks so far, where an approval for a tool that writes is found."""
    if not uses:
        return {}
    approved = approved_calls(own_blocks)
    deferred = sum(len(u.tools) for u in uses) > settings.CHAT_CONNECTOR_DEFER_OVER
    tools = [toolset(u, approved, deferred) for u in uses]
    if deferred:
        tools.append(TOOL_SEARCH_TOOL)
    if any(u.writes for u in uses):
        tools.append(approval_tool(uses))
    return {"mcp_servers": [server(u) for u in uses], "tools": tools, "betas": [BETA]}


def server(use: ConnectorUse) -> dict:
    entry = {"type": "url", "name": use.name, "url": use.url}
    return entry | {"authorization_token": use.token} if use.token else entry


def toolset(use: ConnectorUse, approved: set[tuple[str, str]], deferred: bool) -> dict:
    """Every tool off but those the team chose (a tool the server adds later stays off); one that
    writes only once approved. Deferred: every tool, by the default a tool's config overrides."""
    return {
        "type": "mcp_toolset",
        "mcp_server_name": use.name,
        "default_config": {"enabled": False} | ({"defer_loading": True} if deferred else {}),
        "configs": {
            t: {"enabled": True} for t in use.tools if t not in use.writes or (use.name, t) in approved
        },
    }


def approval_tool(uses: list[ConnectorUse]) -> dict:
    writes = [(u, t) for u in uses for t in u.writes]
    listed = "\n".join(f"- {u.name} / {t}: {u.descriptions.get(t, '')}".rstrip(": ") for u, t in writes)
    return {
        "name": APPROVAL_TOOL,
        "description": (
            "These connector tools change things, so the person must approve each call first:\n"
            f"{listed}\nTo use one, call this with the server, the tool, the exact input and one "
            "sentence saying what it will change. Approved, the tool is available for your next step: "
            "call it with that same input. Denied, do not call it; the person's reason comes back."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "server": {"type": "string", "enum": sorted({u.name for u, _ in writes})},
                "tool": {"type": "string", "enum": sorted({t for _, t in writes})},
                "input": {"type": "object", "description": "The input you will call the tool with."},
                "why": {"type": "string", "description": "What it will change, for the person."},
            },
            "required": ["server", "tool", "input", "why"],
        },
    }


def approved_calls(own_blocks: list[dict]) -> set[tuple[str, str]]:
    """(server, tool) approved in this reply and not called since: each approval is for one call."""
    asked: dict[str, tuple[str, str]] = {}
    approved: set[tuple[str, str]] = set()
    for block in own_blocks:
        if block["type"] == "tool_use" and block.get("name") == APPROVAL_TOOL:
            value = input_of(block)
            asked[block["id"]] = (str(value.get("server")), str(value.get("tool")))
        elif block["type"] == "tool_result" and block.get("tool_use_id") in asked:
            if not block.get("is_error"):
                approved.add(asked[block["tool_use_id"]])
        elif block["type"] == "mcp_tool_use":
            approved.discard((block.get("server_name"), block.get("name")))
    return approved


async def answer(message_id: int, call: dict, uses: list[ConnectorUse]) -> tuple[str, bool]:
    """The person's answer to an ask_approval call, as its result: (text, is_error). Waits up to
    CHAT_APPROVAL_TIMEOUT seconds; no answer by then is a no."""
    value = input_of(call)
    writes = {(u.name, t) for u in uses for t in u.writes}
    asked = (value.get("server"), value.get("tool"))
    if asked not in writes:
        return f"{asked[0]} / {asked[1]} is not a connector tool that asks first in this chat.", True
    await sync_to_async(services.approval_open)(message_id=message_id, call_id=call["id"])
    row = await _answered(message_id, call["id"])
    if row is None or not row.approved:
        reason = row.reason if row is not None else "No answer in time."
        return f"The person denied this call. Their reason: {reason or 'none given'}", True
    return (
        f"Approved. Call {asked[1]} on {asked[0]} now, with this input: {json.dumps(value.get('input'))}",
        False,
    )


async def _answered(message_id: int, call_id: str):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.CHAT_APPROVAL_TIMEOUT
    while loop.time() < deadline:
        row = await sync_to_async(services.approval_of)(message_id=message_id, call_id=call_id)
        if row is not None and row.approved is not None:
            return row
        await asyncio.sleep(POLL_SECONDS)
    await sync_to_async(services.approvals_close)(message_id=message_id, reason="No answer in time.")
    return await sync_to_async(services.approval_of)(message_id=message_id, call_id=call_id)


def failed_connectors(error: str, uses: list[ConnectorUse]) -> list[ConnectorUse]:
    """The connectors to go on without after this API error: the one it names (its server name,
    quoted), or all of them when it blames an MCP server without saying which (the real API's
    "Connection error while communicating with MCP server" does not); none for any other error."""
    named = [u for u in uses if f"'{u.name}'" in error or f'"{u.name}"' in error]
    return named or (list(uses) if "mcp server" in error.lower() else [])
