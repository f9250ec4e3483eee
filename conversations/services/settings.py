"""Settings: a conversation's title (renamed, or generated), model, parameters and pinned prompt
version; and what a team's owners decide for the conversations on its prompts."""

from conversations.claude import params as chat_params
from conversations.claude.capabilities import capabilities
from conversations.models import Conversation, TeamPolicy
from conversations.services.errors import ChatError
from teams.models import PromptVersion


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join(title.split())[:200]
    if not title:
        raise ChatError("A title cannot be empty.")
    conversation.title = title
    # Not `updated_at`: a rename must not move it to the top of the sidebar's list.
    conversation.save(update_fields=["title"])
    return conversation


def conversation_title_replace(*, conversation_id: int, fallback: str, title: str) -> bool:
    """A generated title (titles.py) in place of `fallback`, unless the title changed since (a
    rename, even one made while the call was out): one conditional UPDATE. Whether it replaced it."""
    return bool(Conversation.objects.filter(pk=conversation_id, title=fallback).update(title=title))


def conversation_configure(*, conversation: Conversation, model: str, params: dict) -> Conversation:
    """Change the model and parameters; they apply from the next turn. ChatError lists what is wrong."""
    parsed, errors = chat_params.parse(
        {"timezone": (conversation.params or {}).get("timezone", "UTC"), **params}, capabilities(model)
    )
    if errors:
        raise ChatError(" ".join(errors))
    conversation.model = model
    conversation.params = parsed.model_dump(exclude_defaults=True)
    conversation.save(update_fields=["model", "params", "updated_at"])
    return conversation


def conversation_switch_prompt(*, conversation: Conversation, version: PromptVersion) -> None:
    """Pin the conversation to another prompt version; only ever on the user's explicit request."""
    conversation.prompt_version = version
    conversation.save(update_fields=["prompt_version", "updated_at"])


def team_policy_update(*, team_id: int, web_access: bool) -> TeamPolicy:
    """Whether conversations on the team's prompts may use web search and fetch (web.py)."""
    policy, _ = TeamPolicy.objects.update_or_create(team_id=team_id, defaults={"web_access": web_access})
    return policy
