import functools
import json

from django import template
from django.urls import get_script_prefix, reverse

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


@register.simple_tag
def message_url(name: str, pk: int) -> str:
    """`{% url name pk %}` for a URL whose one argument is an id, without a reverse() per use: a
    1,000-message page has a thousand of them (30 ms). Each name is reversed once."""
    return _id_pattern(name, get_script_prefix()).replace("/0/", f"/{int(pk)}/", 1)


@functools.cache
def _id_pattern(name: str, script_prefix: str) -> str:
    return reverse(name, args=[0])  # NoReverseMatch for a URL that does not take one id
