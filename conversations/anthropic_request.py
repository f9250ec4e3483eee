"""Pure: stored history + settings -> the Messages API request (a plain dict).

No I/O here. Tests pin the exact JSON this produces.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Turn:
    """One stored message: its role and its content blocks as the API shapes them."""

    role: str
    blocks: list[dict] = field(default_factory=list)


def replayable_block(block: dict) -> dict | None:
    """The block as the API must see it again, or None when it cannot be replayed.

    Thinking blocks go back verbatim with their signature; one cut off before its signature
    arrived (a stopped reply) is dropped, as is an empty text block.
    """
    kind = block.get("type")
    if kind == "text" and not block.get("text"):
        return None
    if kind == "thinking" and not block.get("signature"):
        return None
    return block


def build_messages(turns: Iterable[Turn]) -> list[dict]:
    """Alternating user/assistant messages starting with `user`.

    Turns left empty (a reply that failed before any output) disappear, and neighbours with the
    same role are merged, so a failed reply never breaks alternation.
    """
    messages: list[dict] = []
    for turn in turns:
        content = [b for b in map(replayable_block, turn.blocks) if b is not None]
        if not content:
            continue
        if not messages and turn.role != "user":
            continue
        if messages and messages[-1]["role"] == turn.role:
            messages[-1]["content"].extend(content)
        else:
            messages.append({"role": turn.role, "content": content})
    return messages


def build_request(
    *,
    turns: Iterable[Turn],
    model: str,
    max_tokens: int,
    user_id: str,
    system: str = "",
) -> dict:
    """The keyword arguments for `messages.create`, minus `stream`."""
    request: dict = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": build_messages(turns),
        "metadata": {"user_id": user_id},
    }
    if system:
        request["system"] = [{"type": "text", "text": system}]
    return request
