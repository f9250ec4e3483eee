"""Connector tokens at rest (conversations/connectors/secrets.py): Fernet under CHAT_SECRETS_KEY or
a key of its own derived from SECRET_KEY; the database holds only the encrypted text; a token
stored under an older key reads as missing, on the pages and for the request builder."""

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.urls import reverse

from conversations.connectors import secrets, services
from conversations.connectors import selectors as connectors
from conversations.connectors.forms import ConnectorAdminForm
from conversations.models import Connector, ConnectorToken, TeamConnector

TOKEN = "ghp_SecretPersonalToken1234567890"
SHARED = "shared-SecretOrgToken-0987654321"


@pytest.fixture
def wiki(team, people):
    connector = Connector.objects.create(
        name="wiki", title="Wiki", url="https://wiki.example.com/mcp", auth=Connector.Auth.PERSONAL,
        tools=[{"name": "search", "description": "Find pages"}],
    )  # fmt: skip
    connector.teams.add(team)
    TeamConnector.objects.create(team=team, connector=connector, tools=["search"], updated_by=people["owner"])
    return connector


def test_a_token_round_trips_and_its_encrypted_text_does_not_contain_it(settings):
    settings.CHAT_SECRETS_KEY = "any string at all"
    stored = secrets.encrypt(TOKEN)
    assert TOKEN not in stored and stored != secrets.encrypt(TOKEN)  # a fresh IV each time
    assert secrets.decrypt(stored) == TOKEN
    expected = base64.urlsafe_b64encode(hashlib.sha256(b"any string at all").digest())
    assert Fernet(expected).decrypt(stored.encode()).decode() == TOKEN  # the documented derivation


def test_another_key_cannot_read_it(settings):
    settings.CHAT_SECRETS_KEY = "first key"
    stored = secrets.encrypt(TOKEN)
    settings.CHAT_SECRETS_KEY = "second key"
    with pytest.raises(secrets.Unreadable):
        secrets.decrypt(stored)
    assert secrets.readable(stored) is None
    assert secrets.readable("") is None
    assert secrets.readable("not even base64 ✓") is None


def test_unset_the_key_is_derived_from_secret_key_but_never_equals_it(settings):
    settings.CHAT_SECRETS_KEY = ""
    stored = secrets.encrypt(TOKEN)
    assert secrets.decrypt(stored) == TOKEN
    settings.CHAT_SECRETS_KEY = settings.SECRET_KEY  # the same words as the key it derives from
    assert secrets.readable(stored) is None
    settings.CHAT_SECRETS_KEY = ""
    settings.SECRET_KEY = "another secret key"
    assert secrets.readable(stored) is None


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 (names are ours)
        return cursor.fetchone()[0]


def test_the_database_holds_only_the_encrypted_token(wiki, people):
    stored = services.token_set(user=people["member"], connector=wiki, token=f"  {TOKEN}\n")
    raw = raw_column(ConnectorToken._meta.db_table, "token", stored.pk)
    assert TOKEN not in raw and secrets.decrypt(raw) == TOKEN  # pasted spaces are trimmed


def test_the_shared_token_is_stored_encrypted_by_the_admin_form(team):
    form = ConnectorAdminForm(
        data={"name": "crm", "title": "CRM", "url": "https://crm.example.com/mcp", "auth": "shared",
              "token": SHARED, "tools_text": "find — Find a customer", "teams": [team.pk]},
    )  # fmt: skip
    assert form.is_valid(), form.errors
    connector = form.save()
    raw = raw_column(Connector._meta.db_table, "shared_token", connector.pk)
    assert SHARED not in raw and secrets.decrypt(raw) == SHARED


def test_a_changed_key_reads_as_missing_everywhere(client, settings, wiki, team, people):
    settings.CHAT_SECRETS_KEY = "old key"
    services.token_set(user=people["member"], connector=wiki, token=TOKEN)
    [use] = connectors.for_team(team.pk, people["member"].pk)
    assert (use.token, use.missing_token) == (TOKEN, False)

    settings.CHAT_SECRETS_KEY = "new key"
    [use] = connectors.for_team(team.pk, people["member"].pk)
    assert (use.token, use.missing_token) == (None, True)
    client.force_login(people["member"])
    response = client.get(reverse("my_connectors"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "can no longer be read" in page and "Add token" in page and "Token added" not in page

    client.post(reverse("connector_token_set", args=[wiki.pk]), {"token": TOKEN})  # added again
    assert connectors.for_team(team.pk, people["member"].pk)[0].token == TOKEN


def test_the_admin_says_when_the_shared_token_no_longer_decrypts(settings, team):
    settings.CHAT_SECRETS_KEY = "old key"
    connector = Connector.objects.create(
        name="crm", title="CRM", url="https://crm.example.com/mcp", auth=Connector.Auth.SHARED,
        shared_token=secrets.encrypt(SHARED), tools=[{"name": "find", "description": ""}],
    )  # fmt: skip
    settings.CHAT_SECRETS_KEY = "new key"
    form = ConnectorAdminForm(instance=connector)
    assert "no longer decrypts" in str(form["token"].help_text)
    data = {"name": "crm", "title": "CRM", "url": connector.url, "auth": "shared", "tools_text": "find"}
    refused = ConnectorAdminForm(data=data, instance=connector)
    assert not refused.is_valid() and "enter it" in refused.errors["token"][0]  # it cannot be kept
