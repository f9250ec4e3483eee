"""Kinds of what Claude writes: text (with its citations), thinking, the API's summary of a long
conversation (claude/compaction.py), and thinking the API redacted."""

from conversations.blocks.kind import Kind


def _text_markdown(block: dict, sources) -> str:
    marks = "".join(
        f" [{sources.source(c).number}]" for c in block.get("citations") or [] if isinstance(c, dict)
    )
    return block["text"] + marks


def _summary_markdown(block: dict) -> str:
    summary = block.get("content") or ""
    return f"<details><summary>Earlier messages were summarized</summary>\n\n{summary}\n\n</details>"


KINDS = (
    Kind("text", {"text": str}, partial="text", label="Text", markdown=_text_markdown, streams="text"),
    Kind(
        "thinking",
        {"thinking": str, "signature": str},
        partial="thinking",
        label="Thinking",
        markdown=lambda block, sources: (
            f"<details><summary>Thinking</summary>\n\n{block['thinking']}\n\n</details>"
        ),
        streams="thinking",
    ),
    Kind(
        "compaction",
        {"content": (str, type(None))},
        partial="compaction",
        label="Summary of earlier messages",
        markdown=lambda block, sources: _summary_markdown(block),
        replayed=True,  # sent back verbatim: a later request starts from it (anthropic_request.since_summary)
    ),
    Kind(
        "redacted_thinking",
        {"data": str},
        partial="redacted_thinking",
        label="Thinking (redacted by the API)",
        markdown=lambda block, sources: "",
    ),
)
