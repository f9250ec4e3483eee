import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """Tool inputs as indented JSON (autoescaped by the template)."""
    return json.dumps(value, indent=2, ensure_ascii=False)
