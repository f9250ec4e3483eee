"""Connector pages: staff register connectors in the admin (the shared token write-only, the tools
parsed from text), team owners choose connectors and tools (members read, outsiders get 404), and
each person adds, replaces and removes their own token, which never shows again: not in a page,
not in the logs, not in the export, and not after the account is deleted."""

import io
import logging
import zipfile

import pytest
from django.urls import reverse

from conversations.connectors import secrets
from conversations.connectors.forms import MAX_TOOLS, ConnectorAdminForm
from conversations.models import Connector, ConnectorToken, TeamConnector
from tests.helpers import chat_with_usage

pytestmark = pytest.mark.django_db

TOKEN = "xoxp-VerySecretPersonal-4242"
NEW_TOKEN = "xoxp-TheReplacementToken-1717"
SHARED = "org-SharedSecretToken-5555"
TOOLS = [
    {"name": "search", "description": "Find messages"},
    {"name": "post", "description": "Post a message"},
]


@pytest.fixture
def chat(team, people):
    """A connector that needs each person's own token, offered to the team and used by it."""
    connector = Connector.objects.create(
        name="chat", title="Team chat", url="https://chat.example.com/mcp", auth=Connector.Auth.PERSONAL,
        tools=TOOLS,
    )  # fmt: skip
    connector.teams.add(team)
    TeamConnector.objects.create(team=team, connector=connector, tools=["search"], updated_by=people["owner"])
    return connector


def admin_data(**changes) -> dict:
    data = {
        "name": "crm", "title": "CRM", "url": "https://crm.example.com/mcp", "auth": "shared",
        "token": SHARED, "tools_text": "find — Find a customer\nupdate - Change a customer\n\nexport",
    }  # fmt: skip
    return {**data, **changes}


# --- staff: the admin ---------------------------------------------------------------------------


def test_staff_register_a_connector_and_its_token_is_never_rendered_back(client, admin_user, team):
    client.force_login(admin_user)
    add = reverse("admin:conversations_connector_add")
    response = client.post(add, {**admin_data(), "teams": [team.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    connector = Connector.objects.get(name="crm")
    assert connector.tools == [
        {"name": "find", "description": "Find a customer"},
        {"name": "update", "description": "Change a customer"},
        {"name": "export", "description": ""},
    ]
    assert list(connector.teams.all()) == [team] and secrets.decrypt(connector.shared_token) == SHARED

    change = reverse("admin:conversations_connector_change", args=[connector.pk])
    page = client.get(change).content.decode()
    assert (
        'type="password" name="token"' in page and SHARED not in page and connector.shared_token not in page
    )
    assert "A token is stored." in page and "find — Find a customer" in page
    listing = client.get(reverse("admin:conversations_connector_changelist")).content.decode()
    assert "CRM" in listing and SHARED not in listing and connector.shared_token not in listing

    kept = client.post(change, {**admin_data(token=""), "teams": [team.pk]})  # empty keeps it
    assert kept.status_code == 302
    assert secrets.decrypt(Connector.objects.get().shared_token) == SHARED


def test_the_shared_token_is_required_when_shared_and_cleared_on_request():
    form = ConnectorAdminForm(data=admin_data(token=""))
    assert not form.is_valid() and "enter it" in form.errors["token"][0]
    connector = ConnectorAdminForm(data=admin_data()).save()
    refused = ConnectorAdminForm(data=admin_data(token="", clear_token="on"), instance=connector)
    assert not refused.is_valid()  # shared, and nothing left to send
    cleared = ConnectorAdminForm(data=admin_data(token="", clear_token="on", auth="none"), instance=connector)
    assert cleared.is_valid(), cleared.errors
    assert cleared.save().shared_token == ""
    personal = ConnectorAdminForm(data=admin_data(name="crm2", auth="personal"))
    assert personal.is_valid() and personal.save().shared_token == ""  # a token nobody sends is not kept


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("find — a\nfind — again", "Line 2: find is already on line 1."),
        ("find tools — a", "Line 1: write the tool's name"),
        ("fïnd — a", "Line 1: write the tool's name"),
        ("good — a\n— no name", "Line 2: write the tool's name"),
        ("\n".join(f"tool_{i}" for i in range(MAX_TOOLS + 1)), f"At most {MAX_TOOLS} tools (201 listed)."),
    ],
)
def test_bad_tool_lines_are_refused_with_a_clear_error(text, error):
    form = ConnectorAdminForm(data=admin_data(tools_text=text))
    assert not form.is_valid()
    assert any(message.startswith(error) for message in form.errors["tools_text"]), form.errors


@pytest.mark.parametrize(
    "url",
    ["http://crm.example.com/mcp", "ftp://crm.example.com/mcp", "file:///etc/passwd", "javascript:alert(1)"],
)
def test_a_connector_is_reached_over_https_only(url):
    form = ConnectorAdminForm(data=admin_data(url=url))
    assert not form.is_valid() and "url" in form.errors


# --- team owners choose ---------------------------------------------------------------------------


def test_every_connector_url_is_404_outside_the_team(client, people, team, chat):
    ConnectorToken.objects.create(user=people["member"], connector=chat, token=secrets.encrypt(TOKEN))
    client.force_login(people["outsider"])
    page = reverse("team_connectors", args=[team.pk])
    assert client.get(page).status_code == 404
    assert client.post(page, {"connector": chat.pk, "use": "on", "tools": ["search"]}).status_code == 404
    assert client.post(reverse("connector_token_set", args=[chat.pk]), {"token": TOKEN}).status_code == 404
    assert client.post(reverse("connector_token_remove", args=[chat.pk])).status_code == 404
    assert client.get(reverse("my_connectors")).context["rows"] == []
    assert not ConnectorToken.objects.filter(user=people["outsider"]).exists()
    assert ConnectorToken.objects.filter(user=people["member"]).exists()  # another's token stays


def test_members_read_the_choice_and_may_not_change_it(client, people, team, chat):
    client.force_login(people["member"])
    url = reverse("team_connectors", args=[team.pk])
    page = client.get(url).content.decode()
    assert "Team chat" in page and "<code>search</code>" in page and "<code>post</code>" not in page
    assert 'name="tools"' not in page
    assert client.post(url, {"connector": chat.pk}).status_code == 403
    assert TeamConnector.objects.filter(connector=chat).exists()


def test_owners_choose_tools_and_which_ask_before_they_run(client, people, team, chat):
    client.force_login(people["owner"])
    url = reverse("team_connectors", args=[team.pk])
    response = client.post(
        url,
        {
            "connector": chat.pk,
            "use": "on",
            "tools": ["post", "search", "bogus"],
            "writes": ["post", "bogus"],
        },
    )
    assert response.status_code == 302
    choice = TeamConnector.objects.get(connector=chat)
    assert (choice.tools, choice.writes, choice.updated_by) == (["search", "post"], ["post"], people["owner"])
    page = client.get(url).content.decode()
    assert "Saved Team chat." in page and 'aria-label="post asks before it runs"' in page

    refused = client.post(url, {"connector": chat.pk, "use": "on"})
    assert refused.status_code == 422 and "Choose at least one of Team chat" in refused.content.decode()
    client.post(url, {"connector": chat.pk})  # not used: the choice goes
    assert not TeamConnector.objects.filter(connector=chat).exists()


def test_a_connector_not_offered_to_the_team_is_not_shown_nor_chosen(client, people, team, chat):
    hidden = Connector.objects.create(
        name="hidden", title="Hidden one", url="https://h.example.com", tools=TOOLS
    )
    client.force_login(people["owner"])
    url = reverse("team_connectors", args=[team.pk])
    assert "Hidden one" not in client.get(url).content.decode()
    assert client.post(url, {"connector": hidden.pk, "use": "on", "tools": ["search"]}).status_code == 404
    assert client.post(url, {"connector": "x1", "use": "on"}).status_code == 404
    chat.teams.remove(team)
    assert "Team chat" not in client.get(url).content.decode()


def test_the_team_page_and_the_persons_page_are_linked(client, people, team):
    client.force_login(people["member"])
    page = client.get(reverse("team_detail", args=[team.pk])).content.decode()
    assert f'href="{reverse("team_connectors", args=[team.pk])}"' in page
    assert f'href="{reverse("my_connectors")}"' in page


# --- each person's token -------------------------------------------------------------------------


@pytest.fixture
def every_log(caplog, settings):
    """Every record at DEBUG, Django's too (it does not propagate to the root, where caplog listens),
    with the SQL of each query (logged while DEBUG is on)."""
    settings.DEBUG = True
    django_logger = logging.getLogger("django")
    django_logger.addHandler(caplog.handler)
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="django"):
        yield caplog
    django_logger.removeHandler(caplog.handler)


def test_a_token_is_never_shown_nor_logged_through_add_replace_remove(client, people, chat, every_log):
    client.force_login(people["member"])
    mine = reverse("my_connectors")
    pages = [client.get(mine).content.decode()]
    assert "Add token" in pages[0] and "Team chat" in pages[0]
    client.post(reverse("connector_token_set", args=[chat.pk]), {"token": TOKEN})
    pages.append(client.get(mine).content.decode())
    assert "Token added" in pages[-1] and "Replace" in pages[-1]
    assert secrets.decrypt(ConnectorToken.objects.get(user=people["member"]).token) == TOKEN
    client.post(reverse("connector_token_set", args=[chat.pk]), {"token": NEW_TOKEN})
    pages.append(client.get(mine).content.decode())
    assert secrets.decrypt(ConnectorToken.objects.get(user=people["member"]).token) == NEW_TOKEN
    pages.append(
        client.post(reverse("connector_token_set", args=[chat.pk]), {"token": "has a space"}).content.decode()
    )
    assert "no spaces" in pages[-1]
    client.post(reverse("connector_token_remove", args=[chat.pk]))
    pages.append(client.get(mine).content.decode())
    assert not ConnectorToken.objects.exists() and "Token removed for Team chat." in pages[-1]
    pages.append(client.get(reverse("team_connectors", args=[chat.teams.get().pk])).content.decode())
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in every_log.records)
    table = ConnectorToken._meta.db_table
    assert f'INSERT INTO "{table}"' in logged and f'UPDATE "{table}"' in logged  # with their values
    for secret in (TOKEN, NEW_TOKEN):
        assert not [page for page in pages if secret in page]
        assert secret not in logged


def test_a_token_cannot_be_added_for_a_connector_the_person_may_not_use(client, people, team, chat):
    client.force_login(people["member"])
    shared = Connector.objects.create(name="crm", title="CRM", url="https://c.example.com", auth="shared")
    shared.teams.add(team)
    TeamConnector.objects.create(team=team, connector=shared, tools=[])
    unused = Connector.objects.create(name="docs", title="Docs", url="https://d.example.com", auth="personal")
    unused.teams.add(team)  # offered, not chosen by the owners
    for connector in (shared, unused):
        assert (
            client.post(reverse("connector_token_set", args=[connector.pk]), {"token": TOKEN}).status_code
            == 404
        )
    assert client.get(reverse("connector_token_set", args=[chat.pk])).status_code == 405
    assert not ConnectorToken.objects.exists()


def test_a_token_for_a_connector_no_longer_used_can_still_be_removed(client, people, team, chat):
    ConnectorToken.objects.create(user=people["member"], connector=chat, token=secrets.encrypt(TOKEN))
    TeamConnector.objects.all().delete()
    client.force_login(people["member"])
    page = client.get(reverse("my_connectors")).content.decode()
    assert "Tokens for connectors you no longer use" in page and "Remove token for Team chat" in page
    assert client.post(reverse("connector_token_remove", args=[chat.pk])).status_code == 302
    assert not ConnectorToken.objects.exists()
    assert client.post(reverse("connector_token_remove", args=[chat.pk])).status_code == 404


def test_tokens_are_deleted_with_the_account(client, people, chat):
    ConnectorToken.objects.create(user=people["member"], connector=chat, token=secrets.encrypt(TOKEN))
    ConnectorToken.objects.create(user=people["editor"], connector=chat, token=secrets.encrypt(NEW_TOKEN))
    client.force_login(people["member"])
    response = client.post(reverse("account_delete"), {"password": "member-pass-123"})
    assert response.status_code == 200 and "Your account was deleted" in response.content.decode()
    assert list(ConnectorToken.objects.values_list("user__username", flat=True)) == ["editor"]


def test_tokens_are_not_in_the_export(client, people, chat, media):
    member = people["member"]
    ConnectorToken.objects.create(user=member, connector=chat, token=secrets.encrypt(TOKEN))
    chat_with_usage(member, "A question", days_old=0)
    client.force_login(member)
    response = client.get(reverse("export_all"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    contents = b"".join(archive.read(name) for name in archive.namelist())
    assert archive.namelist() and b"A question" in contents
    assert TOKEN.encode() not in contents and ConnectorToken.objects.get().token.encode() not in contents
