"""Settings: a conversation's title (renamed, or generated), model, parameters and pinned prompt
version; and what a team's owners decide for the conversations on its prompts."""

from conversations.claude import params as chat_params
from conversations.claude.capabilities import capabilities
from conversations.claude.params import SWITCHES, ToolChoice, switch_name
from conversations.models import Conversation, TeamPolicy, ToolDefaults
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
    """Change the model and the Settings popover's parameters; they apply from the next turn. The
    composer's switches are kept where the new model offers them. ChatError lists what is wrong."""
    taken = chat_params.switches_taken(capabilities(model))
    kept = {name: value for name, value in (conversation.params or {}).items() if name in taken}
    parsed, errors = chat_params.parse(
        {"timezone": (conversation.params or {}).get("timezone", "UTC"), **kept, **params},
        capabilities(model),
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


def tools_choose(*, params: dict, model: str, choice: ToolChoice, offered: frozenset[str]) -> dict:
    """`params` with the composer's switches set as `choice` says, for the send that carries them
    to save. ChatError for a switch this chat does not offer (`offered`: sending.switches_offered),
    or one the Settings popover's parameters rule out (thinking with a temperature)."""
    wanted = choice.switched_on()
    if refused := [switch_name(name) for name in choice.offers_needed() if name not in offered]:
        verb = "is" if len(refused) == 1 else "are"
        raise ChatError(f"{' and '.join(refused)} {verb} not available in this chat.")
    chosen = {name: value for name, value in (params or {}).items() if name not in SWITCHES} | wanted
    _, errors = chat_params.parse(chosen, capabilities(model))
    if errors:
        raise ChatError(" ".join(errors))
    return chosen


def tool_defaults_remember(*, user_id: int, params: dict) -> None:
    """The switches in `params` start the user's next new chat."""
    switches = {name: value for name, value in params.items() if name in SWITCHES}
    ToolDefaults.objects.update_or_create(user_id=user_id, defaults={"switches": switches})
