"""What the request builder gets (connectors.selectors.for_team): the connectors the team uses, by
title, each with the owners' tools in the listed order, the ones that ask first, and the token for
this person alone (the shared one, or their own), in two queries at most."""

import pytest

from conversations.connectors import secrets, services
from conversations.connectors.selectors import ConnectorUse, for_team
from conversations.models import Connector, TeamConnector
from teams import services as team_services

TOOLS = [
    {"name": "search", "description": "Find pages"},
    {"name": "read", "description": "Read a page"},
    {"name": "write", "description": "Change a page"},
]


def offer(team, *, name: str, title: str, auth: str = Connector.Auth.NONE, **fields) -> Connector:
    fields = {"tools": TOOLS, **fields}
    connector = Connector.objects.create(
        name=name, title=title, url=f"https://{name}.example.com/mcp", auth=auth, **fields
    )
    connector.teams.add(team)
    return connector


def choose(team, connector: Connector, tools: list[str], writes: list[str] = ()) -> TeamConnector:
    return TeamConnector.objects.create(team=team, connector=connector, tools=tools, writes=list(writes))


@pytest.fixture
def wiki(team):
    connector = offer(team, name="wiki", title="Wiki", auth=Connector.Auth.PERSONAL)
    choose(team, connector, ["write", "search"], ["write", "search", "gone"])
    return connector


def test_none_and_an_outsider_get_nothing(team, wiki, people):
    assert for_team(None, people["member"].pk) == []
    assert for_team(team.pk, people["outsider"].pk) == []


def test_each_connector_the_team_uses_with_its_tools_in_listed_order(team, wiki, people, settings):
    shared = offer(
        team, name="crm", title="CRM", auth=Connector.Auth.SHARED, shared_token=secrets.encrypt("org-token")
    )
    choose(team, shared, ["read"])
    services.token_set(user=people["member"], connector=wiki, token="member-token")
    assert for_team(team.pk, people["member"].pk) == [
        ConnectorUse(
            name="crm", title="CRM", url="https://crm.example.com/mcp", tools=("read",), writes=(),
            token="org-token", missing_token=False,
            descriptions={"search": "Find pages", "read": "Read a page", "write": "Change a page"},
        ),
        ConnectorUse(
            name="wiki", title="Wiki", url="https://wiki.example.com/mcp", tools=("search", "write"),
            writes=("search", "write"), token="member-token", missing_token=False,
            descriptions={"search": "Find pages", "read": "Read a page", "write": "Change a page"},
        ),
    ]  # fmt: skip


def test_another_members_token_never_comes_back(team, wiki, people, django_assert_max_num_queries):
    services.token_set(user=people["editor"], connector=wiki, token="editor-token")
    with django_assert_max_num_queries(2):
        [use] = for_team(team.pk, people["member"].pk)
    assert (use.token, use.missing_token) == (None, True)
    assert for_team(team.pk, people["editor"].pk)[0].token == "editor-token"


def test_a_connector_without_a_token_is_not_missing_one(team, people):
    choose(team, offer(team, name="docs", title="Docs"), ["search"])
    [use] = for_team(team.pk, people["member"].pk)
    assert (use.token, use.missing_token) == (None, False)


def test_what_the_team_does_not_use_is_left_out(team, wiki, people):
    other = team_services.team_create(user=people["outsider"], name="Other")
    choose(team, offer(other, name="elsewhere", title="Elsewhere"), ["search"])  # not offered to this team
    choose(team, offer(team, name="retired", title="Retired", tools=[]), ["search"])  # its tools are gone
    offer(team, name="unchosen", title="Unchosen")  # offered, not chosen
    assert [use.name for use in for_team(team.pk, people["member"].pk)] == ["wiki"]
    wiki.teams.remove(team)  # no longer offered: the owners' choice is ignored
    assert for_team(team.pk, people["member"].pk) == []
