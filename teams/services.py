"""Writes for teams and prompts. Each runs in one transaction, so a failed one changes nothing."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q

from .models import Membership, PromptVersion, SystemPrompt, Team

PROMPT_MAX_CHARS = 50_000
Role = Membership.Role


class TeamError(Exception):
    """Shown to the user as it is."""


def team_create(*, user, name: str) -> Team:
    name = name.strip()
    if not name:
        raise TeamError("A team needs a name.")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name)
            Membership.objects.create(team=team, user=user, role=Role.OWNER)
    except IntegrityError as exc:
        raise TeamError(f"A team named “{name}” already exists.") from exc
    return team


def member_add(*, team: Team, identifier: str, role: str) -> Membership:
    """Add an existing user, found by username or email."""
    identifier = identifier.strip()
    user = (
        get_user_model()
        .objects.filter(
            Q(username__iexact=identifier) | Q(email__iexact=identifier) if identifier else Q(pk=None)
        )
        .first()
    )
    if user is None:
        raise TeamError(f"No user has the username or email “{identifier}”.")
    if role not in Role.values:
        raise TeamError("Unknown role.")
    try:
        with transaction.atomic():
            return Membership.objects.create(team=team, user=user, role=role)
    except IntegrityError as exc:
        raise TeamError(f"{user.get_username()} is already in this team.") from exc


def member_set_role(*, membership: Membership, role: str) -> None:
    if role not in Role.values:
        raise TeamError("Unknown role.")
    with transaction.atomic():
        _keep_an_owner(membership, leaving=role != Role.OWNER)
        membership.role = role
        membership.save(update_fields=["role"])


def member_remove(*, membership: Membership) -> None:
    with transaction.atomic():
        _keep_an_owner(membership, leaving=True)
        membership.delete()


def _keep_an_owner(membership: Membership, *, leaving: bool) -> None:
    """Refuse to take away a team's last owner. Locks the owners so two requests cannot race."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(team_id=membership.team_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if leaving and owners == [membership.pk]:
        raise TeamError("A team needs at least one owner: make someone else an owner first.")


def _check_prompt(name: str, text: str) -> tuple[str, str]:
    # Browsers send a textarea's newlines as CRLF: store LF, so the cached prompt prefix is the
    # same bytes whoever saved it.
    name, text = name.strip(), text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not name:
        raise TeamError("A prompt needs a name.")
    if not text:
        raise TeamError("The prompt text is empty.")
    if len(text) > PROMPT_MAX_CHARS:
        raise TeamError(f"The prompt is {len(text):,} characters long; the limit is {PROMPT_MAX_CHARS:,}.")
    return name, text


def prompt_create(*, user, name: str, text: str, team: Team | None, cache_ttl: str) -> SystemPrompt:
    name, text = _check_prompt(name, text)
    try:
        with transaction.atomic():
            prompt = SystemPrompt.objects.create(name=name, team=team, owner=None if team else user)
            PromptVersion.objects.create(prompt=prompt, number=1, text=text, author=user, cache_ttl=cache_ttl)
    except IntegrityError as exc:
        where = f"team {team.name}" if team else "your prompts"
        raise TeamError(f"There is already a prompt named “{name}” in {where}.") from exc
    return prompt


def prompt_edit(*, user, prompt: SystemPrompt, name: str, text: str, cache_ttl: str) -> PromptVersion | None:
    """Publish a new version (old ones stay). Returns None when nothing changed."""
    name, text = _check_prompt(name, text)
    try:
        with transaction.atomic():
            locked = SystemPrompt.objects.select_for_update().get(pk=prompt.pk)
            latest = locked.versions.order_by("-number").first()
            if name != locked.name:
                locked.name = name
                locked.save(update_fields=["name"])
            if latest.text == text and latest.cache_ttl == cache_ttl:
                return None
            return PromptVersion.objects.create(
                prompt=locked, number=latest.number + 1, text=text, author=user, cache_ttl=cache_ttl
            )
    except IntegrityError as exc:
        raise TeamError(f"There is already a prompt named “{name}” there.") from exc
