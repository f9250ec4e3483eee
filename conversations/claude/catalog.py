"""The models a conversation can use: from the API's model list (cached for an hour), the
configured fallback list when listing fails, or just the embedded model when running locally."""

import logging
import os
import time
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.conf import settings

from conversations.blocks import code
from conversations.claude import llm
from conversations.claude.capabilities import capabilities

log = logging.getLogger(__name__)
CACHE_SECONDS = 3600
FALLBACK = [
    m.strip()
    for m in os.environ.get("CHAT_MODELS", "claude-opus-4-8,claude-sonnet-4-6,claude-haiku-4-5").split(",")
]


@dataclass(frozen=True)
class ModelChoice:
    id: str
    display_name: str
    context_window: int
    max_output: int
    local: bool = False
    # What the API's model list says of its server tools, when it says: {"web_search": False, ...}
    server_tools: dict[str, bool] = field(default_factory=dict)


_cache: tuple[float, list[ModelChoice]] | None = None


def reset() -> None:
    """Forget the cached model list (tests; the next call lists again)."""
    global _cache
    _cache = None


def _from_table(
    model_id: str,
    display_name: str = "",
    context: int | None = None,
    output: int | None = None,
    server_tools: dict[str, bool] | None = None,
):
    caps = capabilities(model_id)
    return ModelChoice(
        model_id,
        display_name or model_id,
        context or caps.context_window,
        output or caps.max_output,
        server_tools=server_tools or {},
    )


SERVER_TOOLS = ("web_search", code.TOOL)
CONTEXT_EDITS = ("compact_20260112", "clear_tool_uses_20250919")


def listed_server_tools(model) -> dict[str, bool]:
    """`capabilities.server_tools.<tool>.supported` of a listed model, for the tools it gives; and
    `capabilities.context_management.<edit>.supported` for the context edits (compaction.py)."""
    listed = getattr(model, "capabilities", None)
    tools = getattr(listed, "server_tools", None)
    found = {name: getattr(getattr(tools, name, None), "supported", None) for name in SERVER_TOOLS}
    edits = getattr(listed, "context_management", None)
    found |= {name: getattr(getattr(edits, name, None), "supported", None) for name in CONTEXT_EDITS}
    return {name: supported for name, supported in found.items() if isinstance(supported, bool)}


def listed_without(model_id: str, tool: str) -> bool:
    """True when the cached model list says this model lacks this server tool (one of
    SERVER_TOOLS); never lists to find out."""
    listed = _cache[1] if _cache is not None else []
    return any(choice.id == model_id and choice.server_tools.get(tool) is False for choice in listed)


def listed_with(model_id: str, feature: str) -> bool:
    """True when the cached model list says this model has this server tool or context edit."""
    listed = _cache[1] if _cache is not None else []
    return any(choice.id == model_id and choice.server_tools.get(feature) is True for choice in listed)


CONTEXT_1M = 1_000_000
BETA_1M = "context-1m-2025-08-07"


def input_limit(model_id: str, context_1m: bool = False) -> int:
    """The model's input limit: 1M with a chat's "1M context" option where the model has that beta;
    else the model list's `max_input_tokens` once listed (a native 1M window shows there), else the
    table's."""
    if context_1m and capabilities(model_id).context_1m:
        return CONTEXT_1M
    listed = _cache[1] if _cache is not None else []
    found = next((choice.context_window for choice in listed if choice.id == model_id), None)
    return found or capabilities(model_id).context_window


def available() -> list[ModelChoice]:
    global _cache
    if settings.CHAT_USE_LOCAL_MODEL:
        caps = capabilities(settings.CHAT_LOCAL_MODEL_NAME)
        name = settings.CHAT_LOCAL_MODEL_NAME
        return [ModelChoice(name, "SmolLM2 135M (local)", caps.context_window, caps.max_output, local=True)]
    if _cache is not None and _cache[0] > time.monotonic():
        return _cache[1]
    try:
        listed = async_to_sync(llm.list_models)()
        choices = [
            _from_table(m.id, m.display_name, m.max_input_tokens, m.max_tokens, listed_server_tools(m))
            for m in listed
        ]
    except Exception as exc:  # any failure: the configured list, retried after a minute
        log.warning("listing models failed (%s); using the configured list", type(exc).__name__)
        choices, lifetime = [], 60
    else:
        lifetime = CACHE_SECONDS
    if not choices:
        choices = [_from_table(model_id) for model_id in FALLBACK]
    if settings.CHAT_DEFAULT_MODEL not in {c.id for c in choices}:
        choices.insert(0, _from_table(settings.CHAT_DEFAULT_MODEL))
    _cache = (time.monotonic() + lifetime, choices)
    return choices


def display_name(model_id: str) -> str:
    """The model's name as people read it ("Claude Sonnet 4.6"), or its id when not listed."""
    return next((choice.display_name for choice in available() if choice.id == model_id), model_id)


def is_available(model_id: str) -> bool:
    return any(choice.id == model_id for choice in available())
