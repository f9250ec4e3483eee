"""Structured outputs in the fake: a request with `output_config.format` (a JSON schema) is answered
with JSON that fits the schema, as the real API guarantees. Deterministic: the values follow the
length of the last user text, so two different inputs usually get different scores."""

from __future__ import annotations

import json
from typing import Any

from fakes.scripts import Reply, last_user_text


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's JSON schema, when it asks for structured output."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    return None


def structured_reply(body: dict[str, Any]) -> Reply | None:
    """The default answer to a structured-output request: schema-fitting JSON (None: not one)."""
    schema = schema_of(body)
    if schema is None:
        return None
    return Reply(json.dumps(fitting(schema, len(last_user_text(body)))))


def fitting(schema: dict[str, Any], seed: int, name: str = "value") -> Any:
    """A value that validates against `schema` (the subset structured outputs accept)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][seed % len(schema["enum"])]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: fitting(sub, seed + i, key) for i, (key, sub) in enumerate(properties.items())}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        return [fitting(schema.get("items", {}), seed + i, name) for i in range(count)]
    if kind == "integer":
        low, high = int(schema.get("minimum", 1)), int(schema.get("maximum", 5))
        return low + seed % (high - low + 1)
    if kind == "number":
        return float(schema.get("minimum", 0.5))
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "null":
        return None
    return f"Fake {name} for an input of {seed} characters."
