"""How deep JSON nests: measured without recursion for what comes in, cut for what goes out.

Python's JSON encoder (with `indent`) and anything else that walks a value recurses once per
level, and fails past about 1,000. An import refuses a block nested deeper than MAX_DEPTH; what
is stored already (or came from the API) is cut at MAX_DEPTH before it is shown or exported.
"""

from typing import Any

MAX_DEPTH = 64
CUT = "…"  # stands for what was nested deeper than the limit


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How many objects and arrays nest in `value` (0 for a plain value); the walk stops at the
    first level past `limit`, so anything over the limit returns `limit + 1`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if level > limit:
            return level
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def cut(value: Any, limit: int = MAX_DEPTH) -> Any:
    """`value` with every object or array below level `limit` replaced by CUT. Returns `value`
    itself when nothing is that deep (the common case costs one walk, no copy)."""
    if depth(value, limit) <= limit:
        return value
    return _cut(value, limit)


def _cut(value: Any, levels_left: int) -> Any:
    if not isinstance(value, dict | list | tuple):
        return value
    if levels_left == 0:
        return CUT
    if isinstance(value, dict):
        return {key: _cut(child, levels_left - 1) for key, child in value.items()}
    return [_cut(child, levels_left - 1) for child in value]
