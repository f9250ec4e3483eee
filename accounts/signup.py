"""Who may get a new account (CHAT_SIGNUP), invitations, and what a new account starts with.

CHAT_SIGNUP:
- `open`: anyone may sign up (with a password, or at first single sign-on from an allowed domain);
- `invite`: only with a pending invitation for that email address (the invitation link, or single
  sign-on with the invited address);
- `closed`: no new accounts but those an administrator creates; an invitation then only adds an
  existing account to a team.

A new account gets a monthly budget of CHAT_DEFAULT_USER_BUDGET dollars when that is set.
"""

import hashlib
import re
import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.models import Budget
from teams.models import Membership, Team

from .models import Invitation

INVITATION_DAYS = 7
OPEN, INVITE, CLOSED = "open", "invite", "closed"


class SignupRefused(Exception):
    """Shown to the person as it is."""


def mode() -> str:
    return settings.CHAT_SIGNUP


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(*, email: str, team, role: str, invited_by) -> tuple[Invitation, str]:
    """A new invitation and its token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        email=email.strip(),
        team=team,
        role=role,
        token_hash=token_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    return invitation, token


def pending_invitations(email: str):
    return Invitation.objects.filter(
        email__iexact=email, accepted_at__isnull=True, expires_at__gt=timezone.now()
    )


def invitation_by_token(token: str) -> Invitation | None:
    """The pending invitation with this token; None when unknown, used or expired."""
    if not token or len(token) > 100:
        return None
    return (
        pending_invitations_any()
        .filter(token_hash=token_hash(token))
        .select_related("team", "invited_by")
        .first()
    )


def invitation_used_by(token: str, user) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    return Invitation.objects.filter(token_hash=token_hash(token), accepted_by=user).first()


def pending_invitations_any():
    return Invitation.objects.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())


def invitable_teams(user):
    """The teams this user may invite people to, with any role: staff all, owners those they own."""
    if user is None or not user.is_active:
        return Team.objects.none()
    if user.is_staff:
        return Team.objects.order_by("name")
    return Team.objects.filter(memberships__user=user, memberships__role=Membership.Role.OWNER).order_by(
        "name"
    )


def may_invite(user, team, role: str) -> bool:
    """Whether this user may invite someone to this team (None: to no team, staff only) as this role."""
    if user is None or not user.is_active or role not in Membership.Role.values:
        return False
    if team is None:
        return user.is_staff
    return invitable_teams(user).filter(pk=team.pk).exists()


def invitation_refusal(invitation: Invitation) -> str:
    """Why this invitation is no longer honoured, or "" when it is: its inviter must still be allowed
    to send it (removed from the team, demoted, deactivated or deleted since, it is void)."""
    if may_invite(invitation.invited_by, invitation.team, invitation.role):
        return ""
    where = f"to {invitation.team.name} as {invitation.role}" if invitation.team else "people here"
    return f"This invitation is no longer valid: the person who sent it can no longer invite {where}."


def invitation_accept(invitation: Invitation, user) -> bool:
    """Use it up (once: a second use finds it accepted) and join its team. False when already used,
    or when its inviter may no longer send it (invitation_refusal), which leaves it unused."""
    if invitation_refusal(invitation):
        return False
    used = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now(), accepted_by=user
    )
    if used and invitation.team_id:
        Membership.objects.get_or_create(
            team_id=invitation.team_id, user=user, defaults={"role": invitation.role}
        )
    return bool(used)


def account_prepare(user) -> None:
    """What every new account starts with: the default monthly budget, when one is configured."""
    limit = settings.CHAT_DEFAULT_USER_BUDGET
    if limit is not None:
        Budget.objects.get_or_create(user=user, defaults={"monthly_limit": Decimal(limit)})


def free_username(hint: str) -> str:
    """A username like the hint (an email's local part, or the provider's preferred name), unused."""
    base = re.sub(r"[^\w.@+-]", "", hint.partition("@")[0])[:140] or "user"
    users = get_user_model().objects
    name, n = base, 1
    while users.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}{n}"
    return name


def signup_allowed_for(email: str, *, username_hint: str):
    """A new account for this address (single sign-on), as CHAT_SIGNUP allows; its pending
    invitations accepted. Raises SignupRefused, whose text the sign-in failure page shows."""
    pending = list(pending_invitations(email).select_related("team", "invited_by"))
    invitations = [invitation for invitation in pending if not invitation_refusal(invitation)]
    if mode() == INVITE and pending and not invitations:
        raise SignupRefused(invitation_refusal(pending[0]))
    if mode() == CLOSED or (mode() == INVITE and not invitations):
        why = "an invitation" if mode() == INVITE else "an administrator to create it"
        raise SignupRefused(f"There is no account for {email} here yet. It needs {why}.")
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(free_username(username_hint), email=email)
    except IntegrityError as exc:  # a concurrent sign-in took the name
        raise SignupRefused("The account could not be created just now. Try again.") from exc
    user.set_unusable_password()
    user.save(update_fields=["password"])
    account_prepare(user)
    for invitation in invitations:
        invitation_accept(invitation, user)
    return user
