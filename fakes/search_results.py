"""The fake Messages API's `search_result` blocks: refused when malformed, as the real API refuses
them (shapes from anthropic 2.12's SearchResultBlockParam), and cited by a scripted reply.

A script cites a search result with ``Cited(text, [search_citation(index)])``; the fake completes
the citation from the request when it answers (``cite``): the result's ``source`` and ``title``,
and ``cited_text``, the text of the cited blocks joined, as the real API's
``search_result_location`` has them. ``search_result_index`` counts the request's search_result
blocks in order, across messages and tool results, as the API counts them.
"""

from __future__ import annotations

from typing import Any

from fakes.server_tools import Cited, GroundedReply


def search_citation(index: int = 0, *, start: int = 0, end: int | None = None) -> dict[str, Any]:
    """A citation of the request's `index`-th search result, its blocks start..end (exclusive)."""
    return {
        "type": "search_result_location",
        "search_result_index": index,
        "start_block_index": start,
        "end_block_index": start + 1 if end is None else end,
    }


def search_results_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's search_result blocks, in the order the API counts them."""
    found: list[dict[str, Any]] = []
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "search_result":
                found.append(block)
            elif block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                inner = block["content"]
                found += [b for b in inner if isinstance(b, dict) and b.get("type") == "search_result"]
    return found


def request_error(body: dict[str, Any]) -> str | None:
    """The real API's 400 message for a malformed search_result block, or None."""
    for index, block in enumerate(search_results_in(body)):
        where = f"search_result {index}"
        for name in ("source", "title"):
            if not isinstance(block.get(name), str):
                return f"{where}: {name}: Field required (a string)"
        content = block.get("content")
        if not isinstance(content, list) or not content:
            return f"{where}: content: must be a non-empty list of text blocks"
        for part in content:
            is_text = isinstance(part, dict) and part.get("type") == "text"
            if not is_text or not isinstance(part.get("text"), str):
                return f"{where}: content: Input tag '{_tag(part)}' does not match the expected tag 'text'"
            if not part["text"].strip():
                return f"{where}: content: text content blocks must contain non-whitespace text"
        citations = block.get("citations", {"enabled": False})
        if not isinstance(citations, dict) or not isinstance(citations.get("enabled", False), bool):
            return f"{where}: citations: must be an object like {{'enabled': true}}"
        unknown = set(block) - {"type", "source", "title", "content", "citations", "cache_control"}
        if unknown:
            return f"{where}: {sorted(unknown)[0]}: Extra inputs are not permitted"
    return None


def _tag(part: Any) -> str:
    return str(part.get("type")) if isinstance(part, dict) else type(part).__name__


def cite(reply: GroundedReply, body: dict[str, Any]) -> str | None:
    """Complete the reply's search_result_location citations from the request; the reason when one
    cites what the request does not have (a script's mistake: the real API never does that)."""
    results = search_results_in(body)
    for part in reply.parts:
        if not isinstance(part, Cited):
            continue
        for citation in part.citations:
            if citation.get("type") != "search_result_location" or "cited_text" in citation:
                continue
            index, start, end = (
                citation["search_result_index"],
                citation["start_block_index"],
                citation["end_block_index"],
            )
            if not 0 <= index < len(results):
                return f"the script cites search result {index}; the request has {len(results)}"
            result = results[index]
            if not result.get("citations", {}).get("enabled"):
                return f"the script cites search result {index}, whose citations are not enabled"
            if not 0 <= start < end <= len(result["content"]):
                return f"the script cites blocks {start}..{end} of search result {index}"
            cited = "".join(block["text"] for block in result["content"][start:end])
            citation.update(source=result["source"], title=result["title"], cited_text=cited)
    return None
