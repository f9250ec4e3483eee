"""Server tool replies for the fake Messages API: web search, web fetch and cited text.

A ``GroundedReply`` is a list of parts, streamed in order, each as the real API streams it
(shapes from anthropic 2.12's types; tests/test_fakes.py checks them with the SDK itself):

``Search(query, results)``  a ``server_tool_use`` block named ``web_search`` whose input arrives as
                            ``input_json_delta`` pieces, then a ``web_search_tool_result`` block
                            sent whole in its ``content_block_start`` (results carry
                            ``encrypted_content``), or its error object when ``error_code`` is set.
``Fetch(url, ...)``         the same for ``web_fetch``: a ``web_fetch_tool_result`` holding a
                            ``web_fetch_result`` whose ``content`` is a plain-text document.
``Cited(text, citations)``  a text block that starts with ``"citations": []``; each citation comes
                            as a ``citations_delta`` before the text's ``text_delta`` pieces.
``Code(command, stdout, ...)``  code execution: a ``server_tool_use`` named ``bash_code_execution``,
                            then a ``bash_code_execution_tool_result`` (stdout, stderr, return code
                            and the files it made, each an ``Output`` the fake's Files API then
                            serves as downloadable), or its error object when ``error_code`` is set.
``EditFile(path, file_text)``  code execution's file editor creating a file: a ``server_tool_use``
                            named ``text_editor_code_execution``, then its create result.
``McpCall(server, tool, input)``  an MCP connector call and its result (fakes/mcp.py).
``ToolSearch(query)``       a tool search and the deferred tools it found (fakes/tool_search.py).
a plain ``str``             an ordinary text block.

``message_delta.usage.server_tool_use`` counts the searches and fetches (cumulative, like the real
API). A reply with code execution names its container in ``message_delta.delta.container``: the
request's ``container`` when it gave one, else a new one (``GroundedReply.container``).
Citation builders: ``web_citation``, ``page_citation``, ``char_citation``.

Skills in the container (``container: {"skills": [...]}``) are refused with a 400 naming the first
problem unless the request carries the ``skills-2025-10-02`` beta header and a code execution tool
(``code_execution_20250825`` or later; the docs pair skills with the ``code-execution-2025-08-25``
beta, which anthropic 2.12 no longer lists: the fake asks for none), has at most 8 skills, and each
exists: Anthropic's ``pptx``, ``xlsx``, ``docx`` and ``pdf`` at ``latest`` or a version of
``ANTHROPIC_SKILL_VERSIONS``, a custom one as the fake's skills registry knows it. The reply's
container (``message_delta.delta.container``) lists them with their versions resolved. Files for a
``Code`` part: ``docx_output`` and ``xlsx_output`` make minimal valid Word and Excel files.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from fakes.files import DOCX_TYPE, XLSX_TYPE, docx_bytes, xlsx_bytes
from fakes.mcp import McpCall
from fakes.tool_search import ToolSearch
from fakes.wire import new_id

DIRECT = {"type": "direct"}


@dataclass
class Search:
    query: str
    results: list[dict[str, Any]] = field(default_factory=list)  # see search_result()
    _: KW_ONLY
    error_code: str | None = None  # e.g. "max_uses_exceeded": an error object instead of results
    id: str = ""


@dataclass
class Fetch:
    url: str
    _: KW_ONLY
    title: str = "Fetched page"
    text: str = "The fetched page's text."
    error_code: str | None = None  # e.g. "url_not_accessible"
    retrieved_at: str = "2026-11-20T10:00:00Z"
    id: str = ""


@dataclass
class Cited:
    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Output:
    """A file code execution made; its file_id is made on first use."""

    filename: str
    data: bytes
    mime_type: str = "application/octet-stream"
    file_id: str = ""


def docx_output(filename: str, paragraphs: list[str]) -> Output:
    """A Word file code execution made (a docx skill's), one paragraph per string."""
    return Output(filename, docx_bytes(paragraphs), DOCX_TYPE)


def xlsx_output(filename: str, rows: list[list[str | int | float]]) -> Output:
    """An Excel file code execution made (an xlsx skill's): one sheet of these rows."""
    return Output(filename, xlsx_bytes(rows), XLSX_TYPE)


@dataclass
class Code:
    command: str
    stdout: str = ""
    _: KW_ONLY
    stderr: str = ""
    return_code: int = 0
    files: list[Output] = field(default_factory=list)
    error_code: str | None = None  # e.g. "execution_time_exceeded": an error object instead
    id: str = ""


@dataclass
class EditFile:
    path: str
    file_text: str
    _: KW_ONLY
    id: str = ""


@dataclass
class GroundedReply:
    parts: list[Search | Fetch | Code | EditFile | McpCall | ToolSearch | Cited | str]
    _: KW_ONLY
    stop_reason: str = "end_turn"
    request_id: str | None = None
    container: str = ""  # set by the fake for a reply with code execution or skills
    skills: list[dict[str, Any]] = field(default_factory=list)  # the container's, set by the fake


CONTAINER_EXPIRES_AT = "2099-01-01T00:00:00Z"
SKILLS_BETA = "skills-2025-10-02"
ANTHROPIC_SKILL_VERSIONS = {name: ["20251013"] for name in ("pptx", "xlsx", "docx", "pdf")}  # oldest first
MAX_SKILLS = 8
SkillVersion = Callable[[str, str], str | None]  # a custom skill's resolved version, None if unknown


def uses_container(reply: GroundedReply) -> bool:
    return any(isinstance(p, Code | EditFile) for p in reply.parts)


def container_id(body: dict[str, Any]) -> str | None:
    """The container the request names: ``container`` as an id, or as ``{"id", "skills"}``."""
    container = body.get("container")
    return container.get("id") if isinstance(container, dict) else container


def open_container(reply: GroundedReply, body: dict[str, Any], custom: SkillVersion) -> dict[str, Any] | None:
    """The reply's container, when its code runs or skills are loaded: the request's or a new one."""
    reply.skills = [loaded for skill in _skills(body) if (loaded := _resolved(skill, custom))]
    if not uses_container(reply) and not reply.skills:
        return None
    reply.container = container_id(body) or new_id("container_")
    return _container(reply)


def _container(reply: GroundedReply) -> dict[str, Any]:
    container: dict[str, Any] = {"id": reply.container, "expires_at": CONTAINER_EXPIRES_AT}
    return {**container, "skills": reply.skills} if reply.skills else container


def _skills(body: dict[str, Any]) -> list[Any]:
    container = body.get("container")
    skills = container.get("skills") if isinstance(container, dict) else None
    return skills if isinstance(skills, list) else []


def skills_error(body: dict[str, Any], betas: list[str], custom: SkillVersion) -> str | None:
    """The 400's message for the request's container skills, or None."""
    skills = _skills(body)
    if not skills:
        return None
    if SKILLS_BETA not in betas:
        return f"container.skills: skills need the anthropic-beta header {SKILLS_BETA}."
    tools = body.get("tools") or []
    if not any(isinstance(t, dict) and str(t.get("type", "")).startswith("code_execution_") for t in tools):
        return "container.skills: skills need the code execution tool in tools."
    if len(skills) > MAX_SKILLS:
        return f"container.skills: at most {MAX_SKILLS} skills per request (got {len(skills)})."
    for skill in skills:
        if _resolved(skill, custom) is None:
            named = skill if isinstance(skill, dict) else {}
            skill_id, kind, version = named.get("skill_id"), named.get("type"), named.get("version", "latest")
            return f"container.skills: skill '{skill_id}' ({kind}, version {version}) does not exist."
    return None


def _resolved(skill: Any, custom: SkillVersion) -> dict[str, Any] | None:
    """The skill with its version resolved ("latest": the last), None when it does not exist."""
    if not isinstance(skill, dict) or not isinstance(skill.get("skill_id"), str):
        return None
    kind, skill_id, version = skill.get("type"), skill["skill_id"], str(skill.get("version", "latest"))
    if kind == "anthropic":
        versions = ANTHROPIC_SKILL_VERSIONS.get(skill_id, [])
        resolved = version if version in versions else None
        if version == "latest" and versions:
            resolved = versions[-1]
    else:
        resolved = custom(skill_id, version) if kind == "custom" else None
    return None if resolved is None else {"type": kind, "skill_id": skill_id, "version": resolved}


def outputs(reply: GroundedReply) -> list[Output]:
    """The files the reply's code made, each with its file_id."""
    blocks(reply)  # makes the ids
    return [output for p in reply.parts if isinstance(p, Code) for output in p.files]


def search_result(url: str, title: str, *, page_age: str | None = "3 days ago") -> dict[str, Any]:
    """One web_search_result as the API sends it (its encrypted_content is opaque)."""
    return {
        "type": "web_search_result",
        "url": url,
        "title": title,
        "encrypted_content": "EncRes" + uuid.uuid5(uuid.NAMESPACE_URL, url).hex,
        "page_age": page_age,
    }


def web_citation(result: dict[str, Any], cited_text: str) -> dict[str, Any]:
    return {
        "type": "web_search_result_location",
        "url": result["url"],
        "title": result["title"],
        "encrypted_index": "EncIdx" + uuid.uuid5(uuid.NAMESPACE_URL, result["url"] + cited_text).hex,
        "cited_text": cited_text,
    }


def page_citation(cited_text: str, *, document_index: int = 0, page: int = 1, title: str | None = None):
    return {
        "type": "page_location",
        "cited_text": cited_text,
        "document_index": document_index,
        "document_title": title,
        "start_page_number": page,
        "end_page_number": page + 1,  # exclusive, as the API counts
    }


def char_citation(cited_text: str, *, document_index: int = 0, start: int = 0, title: str | None = None):
    return {
        "type": "char_location",
        "cited_text": cited_text,
        "document_index": document_index,
        "document_title": title,
        "start_char_index": start,
        "end_char_index": start + len(cited_text),
    }


def _tool_id() -> str:
    return "srvtoolu_" + uuid.uuid4().hex[:24]


def blocks(reply: GroundedReply) -> list[dict[str, Any]]:
    """The reply's content blocks, complete (a non-streamed message's `content`). A tool call's id is
    made on first use and kept on its part, so a test can call this again to get what was sent."""
    content: list[dict[str, Any]] = []
    for part in reply.parts:
        if isinstance(part, str):
            content.append({"type": "text", "text": part})
        elif isinstance(part, Cited):
            content.append({"type": "text", "text": part.text, "citations": part.citations})
        elif isinstance(part, McpCall | ToolSearch):
            content += part.blocks()
        else:
            part.id = part.id or _tool_id()
            content += [_call(part), _result(part)]
    return content


def _call(part: Search | Fetch | Code | EditFile) -> dict[str, Any]:
    if isinstance(part, Search):
        name, value = "web_search", {"query": part.query}
    elif isinstance(part, Fetch):
        name, value = "web_fetch", {"url": part.url}
    elif isinstance(part, Code):
        name, value = "bash_code_execution", {"command": part.command}
    else:
        name, value = (
            "text_editor_code_execution",
            {"command": "create", "path": part.path, "file_text": part.file_text},
        )
    return {"type": "server_tool_use", "id": part.id, "name": name, "input": value, "caller": DIRECT}


def _code_result(part: Code | EditFile) -> dict[str, Any]:
    if isinstance(part, EditFile):
        content: dict[str, Any] = {
            "type": "text_editor_code_execution_create_result",
            "is_file_update": False,
        }
        return {"type": "text_editor_code_execution_tool_result", "tool_use_id": part.id, "content": content}
    for output in part.files:
        output.file_id = output.file_id or "file_" + uuid.uuid4().hex[:24]
    content = {
        "type": "bash_code_execution_result",
        "stdout": part.stdout,
        "stderr": part.stderr,
        "return_code": part.return_code,
        "content": [{"type": "bash_code_execution_output", "file_id": o.file_id} for o in part.files],
    }
    if part.error_code:
        content = {"type": "bash_code_execution_tool_result_error", "error_code": part.error_code}
    return {"type": "bash_code_execution_tool_result", "tool_use_id": part.id, "content": content}


def _result(part: Search | Fetch | Code | EditFile) -> dict[str, Any]:
    if isinstance(part, Code | EditFile):
        return _code_result(part)
    if isinstance(part, Search):
        content: Any = part.results
        if part.error_code:
            content = {"type": "web_search_tool_result_error", "error_code": part.error_code}
        kind = "web_search_tool_result"
    else:
        document = {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": part.text},
            "title": part.title,
            "citations": {"enabled": True},
        }
        content = {
            "type": "web_fetch_result",
            "url": part.url,
            "content": document,
            "retrieved_at": part.retrieved_at,
        }
        if part.error_code:
            content = {"type": "web_fetch_tool_result_error", "error_code": part.error_code}
        kind = "web_fetch_tool_result"
    return {"type": kind, "tool_use_id": part.id, "content": content, "caller": DIRECT}


def server_tool_use(reply: GroundedReply) -> dict[str, int]:
    searches = sum(isinstance(p, Search) for p in reply.parts)
    return {
        "web_search_requests": searches,
        "web_fetch_requests": sum(isinstance(p, Fetch) for p in reply.parts),
    }


def output_tokens(reply: GroundedReply) -> int:
    return sum(
        len(p.split()) if isinstance(p, str) else len(getattr(p, "text", "").split()) + 5 for p in reply.parts
    )


async def stream(reply: GroundedReply, write) -> None:
    """Every event after message_start; `write(name, data)` sends one SSE event."""
    for index, block in enumerate(blocks(reply)):
        start = {"type": "content_block_start", "index": index}
        if block["type"] in ("server_tool_use", "mcp_tool_use"):
            await write("content_block_start", {**start, "content_block": {**block, "input": {}}})
            raw = json.dumps(block["input"])
            for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                delta = {"type": "input_json_delta", "partial_json": piece}
                await write(
                    "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
                )
        elif block["type"] == "text":
            opening = (
                {"type": "text", "text": ""}
                if "citations" not in block
                else {"type": "text", "text": "", "citations": []}
            )
            await write("content_block_start", {**start, "content_block": opening})
            for citation in block.get("citations", []):
                delta = {"type": "citations_delta", "citation": citation}
                await write(
                    "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
                )
            for word in _pieces(block["text"]):
                delta = {"type": "text_delta", "text": word}
                await write(
                    "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
                )
        else:  # a tool result arrives whole
            await write("content_block_start", {**start, "content_block": block})
        await write("content_block_stop", {"type": "content_block_stop", "index": index})
    usage = {"output_tokens": output_tokens(reply), "server_tool_use": server_tool_use(reply)}
    delta: dict[str, Any] = {"stop_reason": reply.stop_reason, "stop_sequence": None}
    if reply.container:
        delta["container"] = _container(reply)
    await write("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
    await write("message_stop", {"type": "message_stop"})


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [piece for piece in [w + " " for w in words[:-1]] + [words[-1]] if piece]
