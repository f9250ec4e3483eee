"""Reads about connectors, scoped to the requesting person: what a team's chats may use (for the
request builder), what a team's owners choose from, and the tokens a person may add. A token comes
back decrypted only in `for_team`, and a personal one only to its own person."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from conversations.connectors import secrets
from conversations.models import Connector, ConnectorToken, TeamConnector


@dataclass(frozen=True)
class ConnectorUse:
    name: str  # the API's server name
    title: str
    url: str
    tools: tuple[str, ...]  # the team owner's choice, in the connector's listed order
    writes: tuple[str, ...]  # those of `tools` that ask before they run
    token: str | None  # decrypted: the shared one, or this person's own; None when none
    missing_token: bool  # it needs this person's own token and they have not added one
    descriptions: dict[str, str]  # tool name -> description, from Connector.tools


def listed_tools(connector: Connector) -> list[str]:
    """The names of the connector's tools, in the order staff listed them."""
    return [tool["name"] for tool in connector.tools]


def chosen(connector: Connector, names: list[str]) -> tuple[str, ...]:
    """Those of `names` the connector still lists, in its order (staff may have removed some since)."""
    wanted = set(names)
    return tuple(name for name in listed_tools(connector) if name in wanted)


def _used_by_team(team_id: int, user_id: int):
    """The team's choices of connectors still offered to it, when `user_id` is one of its members."""
    return (
        TeamConnector.objects.filter(
            team_id=team_id, team__memberships__user_id=user_id, connector__teams=F("team")
        )
        .select_related("connector")
        .order_by("connector__title", "connector__pk")
    )


def for_team(team_id: int | None, user_id: int) -> list[ConnectorUse]:
    """The connectors the team uses (offered to it, chosen by its owners, at least one tool),
    ordered by title; [] for None. A personal token is only ever `user_id`'s own."""
    if team_id is None:
        return []
    choices = [c for c in _used_by_team(team_id, user_id) if chosen(c.connector, c.tools)]
    personal = [c.connector_id for c in choices if c.connector.auth == Connector.Auth.PERSONAL]
    own = {}
    if personal:
        rows = ConnectorToken.objects.filter(user_id=user_id, connector_id__in=personal)
        own = dict(rows.values_list("connector_id", "token"))
    return [_use(choice, own.get(choice.connector_id, "")) for choice in choices]


def _use(choice: TeamConnector, own_token: str) -> ConnectorUse:
    connector = choice.connector
    tools = chosen(connector, choice.tools)
    token = None
    if connector.auth == Connector.Auth.SHARED:
        token = secrets.readable(connector.shared_token)
    elif connector.auth == Connector.Auth.PERSONAL:
        token = secrets.readable(own_token)
    return ConnectorUse(
        name=connector.name,
        title=connector.title,
        url=connector.url,
        tools=tools,
        writes=tuple(name for name in tools if name in set(choice.writes)),
        token=token,
        missing_token=connector.auth == Connector.Auth.PERSONAL and token is None,
        descriptions={tool["name"]: tool.get("description", "") for tool in connector.tools},
    )


# --- the team's page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolChoice:
    name: str
    description: str
    chosen: bool
    writes: bool  # asks before it runs


@dataclass(frozen=True)
class Offer:
    """A connector offered to a team, with its owners' choice."""

    connector: Connector
    used: bool
    tools: list[ToolChoice]
    updated_by: str  # who last changed the choice ("" when never, or their account is gone)
    updated_at: datetime | None


def team_offers(team_id: int) -> list[Offer]:
    """The connectors offered to the team, by title. One not used yet shows every tool chosen and
    asking before it runs: the owner loosens from there rather than from nothing."""
    offered = Connector.objects.filter(teams__id=team_id).order_by("title", "pk")
    choices = TeamConnector.objects.filter(team_id=team_id).select_related("updated_by")
    by_connector = {choice.connector_id: choice for choice in choices}
    return [_offer(connector, by_connector.get(connector.pk)) for connector in offered]


def _offer(connector: Connector, choice: TeamConnector | None) -> Offer:
    names = set(choice.tools) if choice else set(listed_tools(connector))
    writes = set(choice.writes) if choice else names
    tools = [
        ToolChoice(t["name"], t.get("description", ""), t["name"] in names, t["name"] in writes)
        for t in connector.tools
    ]
    author = choice.updated_by.get_username() if choice and choice.updated_by else ""
    return Offer(connector, choice is not None, tools, author, choice.updated_at if choice else None)


# --- each person's tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalConnector:
    """A connector that needs the person's own token, in a team of theirs that uses it."""

    connector: Connector
    teams: list[str]  # the person's teams that use it
    token_added_at: datetime | None  # None: no token, or it no longer decrypts
    unreadable: bool  # a token is stored but the key changed since: it counts as missing


def personal_connector(user_id: int, connector_id: int) -> Connector | None:
    """The connector, when the person may add a token for it: it needs one's own token and a team
    of theirs uses it (offered to the team, chosen by its owners)."""
    usable = _personal_choices(user_id).values("connector_id")
    return Connector.objects.filter(pk=connector_id, pk__in=usable).first()


def _personal_choices(user_id: int):
    """The choices of the person's teams of connectors that need one's own token, still offered."""
    return TeamConnector.objects.filter(
        team__memberships__user_id=user_id,
        connector__auth=Connector.Auth.PERSONAL,
        connector__teams=F("team"),
    )


def personal_page(user_id: int) -> tuple[list[PersonalConnector], list[ConnectorToken]]:
    """The connectors the person adds tokens for, and their tokens for connectors they no longer
    use (they may still remove those)."""
    choices = _personal_choices(user_id).select_related("connector", "team").order_by("team__name")
    teams: dict[int, list[str]] = {}
    connectors: dict[int, Connector] = {}
    for choice in choices:
        connectors[choice.connector_id] = choice.connector
        teams.setdefault(choice.connector_id, []).append(choice.team.name)
    own = ConnectorToken.objects.filter(user_id=user_id).select_related("connector")
    tokens = {token.connector_id: token for token in own}
    rows = [
        _personal(connector, teams[pk], tokens.get(pk))
        for pk, connector in sorted(connectors.items(), key=lambda item: (item[1].title, item[0]))
    ]
    stale = sorted((t for pk, t in tokens.items() if pk not in connectors), key=lambda t: t.connector.title)
    return rows, stale


def _personal(connector: Connector, teams: list[str], token: ConnectorToken | None) -> PersonalConnector:
    readable = token is not None and secrets.readable(token.token) is not None
    return PersonalConnector(
        connector, teams, token.created_at if readable else None, token is not None and not readable
    )
