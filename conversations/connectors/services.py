"""Writes about connectors: a team owner's choice of a connector and its tools, and a person's own
token (encrypted here, the only place one is written; never logged, never returned)."""

from django.utils import timezone

from conversations.connectors import secrets
from conversations.connectors.selectors import chosen
from conversations.models import Connector, ConnectorToken, TeamConnector

TOKEN_MAX = 8192  # characters; OAuth access tokens are far shorter


class ConnectorError(Exception):
    """Shown to the person as it is."""


def team_connector_choose(
    *, team_id: int, connector: Connector, user, use: bool, tools: list[str], writes: list[str]
) -> TeamConnector | None:
    """The team's choice for a connector offered to it (the caller checked both, and that `user`
    owns the team): its tools among those listed, and which of those ask before they run. Not
    used: the choice goes, and with it the connector from the team's chats."""
    if not use:
        TeamConnector.objects.filter(team_id=team_id, connector=connector).delete()
        return None
    names = list(chosen(connector, tools))
    if not names:
        raise ConnectorError(f"Choose at least one of {connector.title}'s tools, or stop using it.")
    choice, _ = TeamConnector.objects.update_or_create(
        team_id=team_id,
        connector=connector,
        defaults={
            "tools": names,
            "writes": [name for name in names if name in set(writes)],
            "updated_by": user,
        },
    )
    return choice


def token_set(*, user, connector: Connector, token: str) -> ConnectorToken:
    """Add or replace the person's token for the connector (the caller checked they may use it)."""
    token = token.strip()
    if not token:
        raise ConnectorError("Paste the token first.")
    if len(token) > TOKEN_MAX:
        raise ConnectorError(f"A token is at most {TOKEN_MAX:,} characters.")
    if any(character.isspace() for character in token):
        raise ConnectorError("A token has no spaces or line breaks: check what you pasted.")
    stored, _ = ConnectorToken.objects.update_or_create(
        user=user,
        connector=connector,
        defaults={"token": secrets.encrypt(token), "created_at": timezone.now()},  # "added" on replace
    )
    return stored


def token_remove(*, user, connector_id: int) -> bool:
    """Remove the person's own token for the connector; False when they had none."""
    deleted, _ = ConnectorToken.objects.filter(user=user, connector_id=connector_id).delete()
    return deleted > 0
