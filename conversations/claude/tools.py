"""Built-in tools the model may call, each with a JSON schema and a pydantic input model.

A tool's result is text. Whatever goes wrong (bad input, an unknown tool, an exception) becomes
an `is_error` result the model can read, and the loop goes on.
"""

import ast
import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q
from pydantic import BaseModel, Field, ValidationError

from conversations.claude import memory_tool
from conversations.models import ContentBlock


@dataclass(frozen=True)
class ToolContext:
    user_id: int
    timezone: str = "UTC"


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_model: type[BaseModel]
    run: Callable[[BaseModel, ToolContext], str]

    def schema(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": _input_schema(self.input_model),
        }


@functools.cache
def _input_schema(model: type[BaseModel]) -> dict:
    """Made once (pydantic takes about 0.6 ms a tool, and every request offers it); shared, unchanged."""
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


# --- calculator: a whitelist evaluator over the expression's syntax tree, never eval() ------------

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {
    name: getattr(math, name)
    for name in ["sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "log", "log10", "exp", "floor", "ceil"]
} | {"abs": abs, "round": round}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def evaluate(expression: str) -> float | int:
    """Arithmetic only: numbers, + - * / // % **, parentheses, and a few math functions."""

    def visit(node: ast.AST):
        if isinstance(node, ast.Expression):
            return visit(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = visit(node.left), visit(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 1000:
                raise ValueError("exponent too large")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](visit(node.operand))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            return _FUNCTIONS[node.func.id](*[visit(arg) for arg in node.args])
        raise ValueError(f"not allowed in an expression: {ast.dump(node)[:60]}")

    if len(expression) > 500:
        raise ValueError("expression too long")
    return visit(ast.parse(expression, mode="eval"))


class CalculatorInput(BaseModel):
    expression: str = Field(description="An arithmetic expression, e.g. (2 + 3) * sqrt(16) / 7")


def _calculator(data: CalculatorInput, context: ToolContext) -> str:
    return repr(evaluate(data.expression))


# --- the date and time where the user is ---------------------------------------------------------


class NowInput(BaseModel):
    pass


def _now(data: NowInput, context: ToolContext) -> str:
    try:
        zone = ZoneInfo(context.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    now = datetime.now(zone)
    return f"{now:%A %Y-%m-%d %H:%M:%S} ({zone.key}, UTC{now:%z})"


# --- search of the user's own past conversations ---------------------------------------------


class SearchInput(BaseModel):
    query: str = Field(min_length=2, max_length=200, description="Words to look for")


def _search(data: SearchInput, context: ToolContext) -> str:
    hits = (
        ContentBlock.objects.filter(
            Q(payload__text__icontains=data.query),
            message__conversation__owner_id=context.user_id,
            message__conversation__deleted_at__isnull=True,
            message__conversation__temporary_until__isnull=True,  # never found, as in the sidebar's search
            type="text",
        )
        .select_related("message__conversation")
        .order_by("-message__created_at")[:5]
    )
    lines = []
    for block in hits:
        text = block.payload["text"]
        at = max(0, text.lower().find(data.query.lower()) - 80)
        message = block.message
        excerpt = text[at : at + 240]
        lines.append(
            f"- “{message.conversation.title}” ({message.created_at:%Y-%m-%d}, {message.role}): …{excerpt}…"
        )
    return "\n".join(lines) or "No matches in your past conversations."


TOOLS = {
    tool.name: tool
    for tool in [
        Tool("calculator", "Evaluate an arithmetic expression exactly.", CalculatorInput, _calculator),
        Tool("current_datetime", "The current date and time in the user's time zone.", NowInput, _now),
        Tool(
            "search_conversations",
            "Search the user's own earlier conversations for words; returns short excerpts.",
            SearchInput,
            _search,
        ),
    ]
}


def schemas() -> list[dict]:
    return [tool.schema() for tool in TOOLS.values()]


def run_tool(name: str, tool_input: dict, context: ToolContext) -> tuple[str, bool]:
    """(result text, is_error)."""
    if name == memory_tool.NAME:
        return memory_tool.run(tool_input, context.user_id)
    tool = TOOLS.get(name)
    if tool is None:
        return f"Unknown tool: {name}", True
    try:
        data = tool.input_model.model_validate(tool_input)
    except ValidationError as exc:
        return f"Invalid input for {name}: {exc.errors(include_url=False)}", True
    try:
        return tool.run(data, context), False
    except Exception as exc:  # the model gets the error and can try again
        return f"{name} failed: {type(exc).__name__}: {exc}", True
