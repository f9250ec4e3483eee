"""Web search and web fetch: Claude's server tools, run by the API itself.

Whether a reply may use them: the instance allows it (CHAT_WEB_ACCESS), the model offers them
(the capability table, unless the API's model list says it has no web search), the team whose
prompt the conversation is pinned to has not turned web access off (TeamPolicy, set by its
owners), and the user turned them on for this conversation.
The tool versions are the installed SDK's (anthropic 2.12: web_search_20260318 and
web_fetch_20260318). `max_uses`, `allowed_domains` and `blocked_domains` are instance settings.

The blocks they produce (declared with the block kinds, conversations/blocks/web.py) and the
citations in the answer are stored exactly as they arrived and sent back verbatim in later turns,
`encrypted_content` and `encrypted_index` included (anthropic_request.py replays them).
"""

from django.conf import settings

from conversations.claude import catalog
from conversations.claude.capabilities import Capabilities
from conversations.claude.params import ChatParams
from conversations.models import Conversation, TeamPolicy

SEARCH_TOOL = "web_search_20260318"
FETCH_TOOL = "web_fetch_20260318"


def tool_definitions() -> list[dict]:
    """The two tools as the request offers them."""
    limits: dict = {}
    if settings.CHAT_WEB_MAX_USES:
        limits["max_uses"] = settings.CHAT_WEB_MAX_USES
    if settings.CHAT_WEB_ALLOWED_DOMAINS:
        limits["allowed_domains"] = list(settings.CHAT_WEB_ALLOWED_DOMAINS)
    if settings.CHAT_WEB_BLOCKED_DOMAINS:
        limits["blocked_domains"] = list(settings.CHAT_WEB_BLOCKED_DOMAINS)
    return [
        {"type": SEARCH_TOOL, "name": "web_search", **limits},
        # Fetched pages are cited like documents.
        {"type": FETCH_TOOL, "name": "web_fetch", **limits, "citations": {"enabled": True}},
    ]


def team_allows(conversation: Conversation) -> bool:
    """False when the conversation is pinned to a team prompt whose owners turned web access off."""
    version = conversation.prompt_version
    team_id = version.prompt.team_id if version is not None else None
    if team_id is None:
        return True
    return not TeamPolicy.objects.filter(team_id=team_id, web_access=False).exists()


def offered(conversation: Conversation, caps: Capabilities) -> bool:
    """Whether the settings popover offers the toggle."""
    if catalog.listed_without(conversation.model, "web_search"):  # the API's model list knows better
        return False
    return settings.CHAT_WEB_ACCESS and caps.web and team_allows(conversation)


def enabled(conversation: Conversation, chosen: ChatParams, caps: Capabilities) -> bool:
    """Whether this conversation's next request offers the tools."""
    return chosen.web and offered(conversation, caps)
