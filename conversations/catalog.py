"""The models a conversation can use: from the API's model list (cached for an hour), the
configured fallback list when listing fails, or just the embedded model when running locally."""

import logging
import os
import time
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.conf import settings

from . import llm
from .capabilities import capabilities

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
    web_search: bool | None = None  # what the API's model list says, when it says


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
    web_search: bool | None = None,
):
    caps = capabilities(model_id)
    return ModelChoice(
        model_id,
        display_name or model_id,
        context or caps.context_window,
        output or caps.max_output,
        web_search=web_search,
    )


def listed_web_search(model) -> bool | None:
    """`capabilities.server_tools.web_search.supported` of a listed model, or None when not given."""
    support = getattr(getattr(getattr(model, "capabilities", None), "server_tools", None), "web_search", None)
    supported = getattr(support, "supported", None)
    return supported if isinstance(supported, bool) else None


def listed_without_web(model_id: str) -> bool:
    """True when the cached model list says this model has no web search (never lists to find out)."""
    listed = _cache[1] if _cache is not None else []
    return any(choice.id == model_id and choice.web_search is False for choice in listed)


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
            _from_table(m.id, m.display_name, m.max_input_tokens, m.max_tokens, listed_web_search(m))
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
