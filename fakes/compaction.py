"""The fake API's context management (the `compact-2026-01-12` and `context-management-2025-06-27`
betas), as the SDK 2.12 types describe it.

* A request whose `context_management.edits` holds a ``compact_20260112`` edit, and whose input
  (``estimate_input_tokens``) is over its trigger, is answered with a ``compaction`` block first:
  a summary that keeps the start of the conversation (a previous summary, then each user turn's
  first words), signed so that a changed summary is caught. Streamed as ``content_block_start``
  (content null), one ``compaction_delta`` with the summary, ``content_block_stop``.
* A request that sends a ``compaction`` block back is refused as the API refuses it: 400
  ``compaction_block_misplaced`` unless it is the first block of the first message, 400
  ``compaction_content_mismatch`` when its content is not what its signature recorded.
* A ``clear_tool_uses_20250919`` edit over its trigger clears all but the newest `keep` tool uses:
  the response's ``message_delta`` says how many in ``context_management.applied_edits``.
"""

import hashlib
from typing import Any

from fakes.tokens import estimate_input_tokens

COMPACT = "compact_20260112"
CLEAR = "clear_tool_uses_20250919"
SUMMARY_CHARS = 2000


def sign(content: str) -> str:
    return "sig_" + hashlib.sha256(content.encode()).hexdigest()[:32]


def _edits(body: dict[str, Any]) -> dict[str, dict]:
    edits = (body.get("context_management") or {}).get("edits") or []
    return {edit.get("type"): edit for edit in edits if isinstance(edit, dict)}


def _blocks(body: dict[str, Any]):
    for m, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        for b, block in enumerate(content if isinstance(content, list) else []):
            if isinstance(block, dict):
                yield m, b, block


def request_error(body: dict[str, Any]) -> tuple[str, str] | None:
    """(error_code, message) for a compaction block sent back wrongly; None when all is well."""
    for m, b, block in _blocks(body):
        if block.get("type") != "compaction":
            continue
        if (m, b) != (0, 0):
            return (
                "compaction_block_misplaced",
                "The compaction block must be the first block of the conversation.",
            )
        content = block.get("content")
        if content is not None and block.get("signature") != sign(content):
            return "compaction_content_mismatch", "The compaction block's content differs from its signature."
    return None


def summary_block(body: dict[str, Any]) -> dict[str, Any] | None:
    """The compaction block to answer with, when the request is over its compaction trigger."""
    edit = _edits(body).get(COMPACT)
    if edit is None:
        return None
    trigger = ((edit.get("trigger") or {}).get("value")) or 150_000
    if estimate_input_tokens(body) <= trigger:
        return None
    parts = []
    for _, _, block in _blocks(body):
        if block.get("type") == "compaction" and block.get("content"):
            parts.append(block["content"])
    for message in body.get("messages") or []:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        texts = (
            [content]
            if isinstance(content, str)
            else [b.get("text", "") for b in content if isinstance(b, dict)]
        )
        words = " ".join(" ".join(t for t in texts if t).split()[:12])
        if words:
            parts.append(words)
    summary = ("Summary of the conversation so far: " + " / ".join(parts))[:SUMMARY_CHARS]
    return {"type": "compaction", "content": summary, "encrypted_content": None, "signature": sign(summary)}


def applied_edits(body: dict[str, Any]) -> dict[str, Any] | None:
    """`context_management` for the response's message_delta, when the clear edit applied."""
    edit = _edits(body).get(CLEAR)
    if edit is None:
        return None
    trigger = ((edit.get("trigger") or {}).get("value")) or 100_000
    keep = ((edit.get("keep") or {}).get("value")) or 3
    uses = [block for _, _, block in _blocks(body) if block.get("type") in ("tool_use", "server_tool_use")]
    if estimate_input_tokens(body) <= trigger or len(uses) <= keep:
        return None
    cleared = len(uses) - keep
    return {
        "applied_edits": [
            {"type": CLEAR, "cleared_tool_uses": cleared, "cleared_input_tokens": 100 * cleared}
        ]
    }
