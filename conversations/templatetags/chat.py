import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """Tool inputs as indented JSON (autoescaped by the template). A string is a tool call's input
    still streaming: JSON so far, shown as it is."""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def markdown_source(blocks) -> str:
    """A reply's markdown as the model wrote it (its text blocks, a blank line between them): what
    Copy reply copies (autoescaped into a <template>, whose content is that text again)."""
    return "\n\n".join(block.payload.get("text", "") for block in blocks if block.type == "text")
