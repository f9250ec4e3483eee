"""Kinds of what Claude writes: text (with its citations), thinking, and thinking the API redacted."""

from conversations.blocks.kind import Kind


def _text_markdown(block: dict, sources) -> str:
    marks = "".join(
        f" [{sources.source(c).number}]" for c in block.get("citations") or [] if isinstance(c, dict)
    )
    return block["text"] + marks


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
        "redacted_thinking",
        {"data": str},
        partial="redacted_thinking",
        label="Thinking (redacted by the API)",
        markdown=lambda block, sources: "",
    ),
)
