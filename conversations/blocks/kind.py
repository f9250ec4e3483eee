"""What a content-block kind declares, and the Markdown helpers the kinds share. Standard library
only: the pure request builder (reply/anthropic_request.py) reads the kinds."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CALL = {"id": str, "name": str, "input": dict}  # what every tool call holds
SERVER_CALL = "server_tool_use"  # a call the API runs itself: web, code execution, tool search


@dataclass(frozen=True)
class Kind:
    """One kind of content block, declared once.

    - `type`: the API's block type; `matches` narrows a type several kinds share (a server
      tool's call is a web call or a code call, by its name).
    - `fields`: what a stored block of it must hold (name -> type), checked on import.
    - `streams`: what the tab sees while it arrives: "text" (text deltas), "thinking", "input"
      (a tool call's input JSON so far) or "code" (a code call's code, decoded from that JSON,
      from the first of `code_fields[name]` it has), or "" (arrives whole).
    - `partial`: the template that shows it (templates/conversations/blocks/<partial>.html).
    - `markdown(block, sources)`: it in the Markdown export (`sources` numbers citations).
    - `as_text(block, tool)`: what a later request sends instead of it when its tool (named
      `tool` in that request) is not offered there: the API refuses a tool's calls and results
      without the tool. None: sent as it is.
    - `replayed`: a result the API made itself, sent back verbatim in later turns.
    - `label`: what the page and the export call it.
    """

    type: str
    fields: dict[str, type | tuple[type, ...]]
    partial: str
    label: str
    markdown: Callable[[dict, object], str]
    streams: str = ""
    code_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    as_text: Callable[[dict, str | None], str] | None = None
    replayed: bool = False
    is_call: bool = False  # a tool call (ours, or a server tool's): its results name its id
    matches: Callable[[dict], bool] = lambda block: True


# --- Markdown that shows what it is given, literally ---------------------------------------------


def fenced(text: str, info: str = "") -> str:
    """`text` as a fenced code block whose fence is longer than any run of backticks in it, so
    nothing inside can close it early (CommonMark: the closing fence is at least as long)."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def md_code(text) -> str:
    """A short value (a tool's name, a path) as inline code, whatever backticks it holds."""
    text = " ".join(str(text).split())
    longest = _longest_backticks(text)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"`{text}`"


def md_text(value) -> str:
    """A value from the web, as Markdown that shows it literally (no links, markup or HTML)."""
    text = " ".join(str(value or "").split())
    return "".join(f"\\{c}" if c in "\\`*_[]()<>#!|~" else c for c in text)


def safe_url(url) -> str | None:
    """The URL when it is http(s) with a host, else None (shown as text, never a link)."""
    if not isinstance(url, str) or any(ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def md_url(url) -> str:
    """An http(s) URL as an autolink; anything else as literal text."""
    safe = safe_url(url)
    if safe and not any(c in safe for c in "<> "):
        return f"<{safe}>"
    return md_text(url)


def call_text(block: dict, tool: str | None = None) -> str:
    """A tool call as a later request reads it when the tool is off."""
    return f"[{block['name']} call: {json.dumps(block.get('input'), ensure_ascii=False)}]"


def result_text(block: dict, tool: str | None) -> str:
    """A tool's result as a later request reads it when the tool is off: what it said, in words."""
    return f"[{tool or 'tool'} result: {_said(block.get('content'))}]"


def _said(content) -> str:
    """A result's text, each search result's title and URL, a code run's output and errors, or
    the error code."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "; ".join(
            item.get("text")
            or " ".join(filter(None, [item.get("title"), item.get("url")]))
            or item.get("type", "")
            for item in content
            if isinstance(item, dict)
        )
    if isinstance(content, dict):
        if "error_code" in content:
            return f"error {content['error_code']}"
        if content.get("type") == "web_fetch_result":
            return " ".join(filter(None, [(content.get("content") or {}).get("title"), content.get("url")]))
        parts = [
            content.get(name)
            for name in ("stdout", "stderr", "content")
            if isinstance(content.get(name), str)
        ]
        return "\n".join(filter(None, parts)) or content.get("type", "")
    return ""


def content_of(block: dict) -> dict:
    content = block.get("content")
    return content if isinstance(content, dict) else {}


def input_of(block: dict) -> dict:
    value = block.get("input")
    return value if isinstance(value, dict) else {}


def markdown_fallback(block: dict, sources) -> str:
    return f"*[{block.get('type')}]*"
