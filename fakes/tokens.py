"""Token usage, deterministic: the input estimate and the prompt cache (rules in fake_anthropic.py)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
from typing import Any


class PromptCache:
    """The cached prefixes, by key; thread-safe, since tests reset it from their own thread."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        """input / cache usage for a request; fakes/fake_anthropic.py's docstring has the rules."""
        blocks = _prefix_blocks(body)
        breakpoints = [i for i, (_, block) in enumerate(blocks) if "cache_control" in block]
        if not breakpoints:
            return {
                "input_tokens": estimate_input_tokens(body),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
        clean = [(tag, _strip_cache_control(block)) for tag, block in blocks]
        cumulative = list(itertools.accumulate(_block_tokens(block) for _, block in clean))
        keys = {i: _prefix_key(body.get("model"), clean[: i + 1]) for i in breakpoints}
        with self._lock:
            hits = [i for i in breakpoints if keys[i] in self._keys]
            self._keys.update(keys.values())
        read = cumulative[hits[-1]] if hits else 0
        last = breakpoints[-1]
        # Each segment is written with the TTL of the breakpoint that ends it; 1h ones come first.
        last_1h = [i for i in breakpoints if _ttl(blocks[i][1]) == "1h"]
        written_1h = max(0, cumulative[last_1h[-1]] - read) if last_1h else 0
        return {
            "input_tokens": cumulative[-1] - cumulative[last],
            "cache_creation_input_tokens": cumulative[last] - read,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cumulative[last] - read - written_1h,
                "ephemeral_1h_input_tokens": written_1h,
            },
        }


def ttl_order_error(body: dict[str, Any]) -> str | None:
    """The real API's refusal of a 1-hour breakpoint after a 5-minute one, or None."""
    ttls = [_ttl(block) for _, block in _prefix_blocks(body) if "cache_control" in block]
    if "1h" in ttls and "5m" in ttls[: len(ttls) - ttls[::-1].index("1h")]:
        return "A cache_control block with ttl='1h' must not come after one with ttl='5m'."
    return None


def _ttl(block: dict[str, Any]) -> str:
    control = block.get("cache_control")
    return control.get("ttl", "5m") if isinstance(control, dict) else "5m"


def _collect_text(value: Any, out: list[str]) -> None:
    """Gather every string that is text content: plain strings, "text" fields, nested "content"."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_text(item, out)
    elif isinstance(value, dict):
        if isinstance(value.get("text"), str):
            out.append(value["text"])
        source = value.get("source")
        if isinstance(source, dict) and source.get("type") == "text" and isinstance(source.get("data"), str):
            out.append(source["data"])  # a text document counts as its text
        if "content" in value:
            _collect_text(value["content"], out)


def estimate_input_tokens(body: dict[str, Any]) -> int:
    parts: list[str] = []
    _collect_text(body.get("system"), parts)
    _collect_text(body.get("messages"), parts)
    return max(1, math.ceil(sum(len(p) for p in parts) / 4))


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def _prefix_blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The request's cacheable prefix in API order, each block tagged with its section/role."""
    blocks: list[tuple[str, dict[str, Any]]] = []
    blocks += [("tools", t) for t in body.get("tools") or [] if isinstance(t, dict)]
    system = body.get("system")
    if isinstance(system, str):
        blocks.append(("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        blocks += [("system", b) for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role"))
        content = message.get("content")
        if isinstance(content, str):
            blocks.append((role, {"type": "text", "text": content}))
        elif isinstance(content, list):
            blocks += [(role, b) for b in content if isinstance(b, dict)]
    return blocks


def _block_tokens(block: dict[str, Any]) -> int:
    return math.ceil(len(json.dumps(block, sort_keys=True)) / 4)


def _prefix_key(model: Any, prefix: list[tuple[str, dict[str, Any]]]) -> str:
    raw = json.dumps([model, prefix], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()
