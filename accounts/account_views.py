"""The account page, and deleting one's own account after proving it is you again: the password,
or for single sign-on accounts a fresh sign-in at the provider (prompt=login) within 5 minutes."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from . import oidc
from .deletion import DeletionRefused, account_delete, sole_owner_of
from .models import Identity

REAUTH_SECONDS = 300


def export_url() -> str | None:
    """The export of all one's data (the Conversations issue), when this build has it."""
    try:
        return reverse("export_all")
    except NoReverseMatch:
        return None


def recently_reauthenticated(request: HttpRequest) -> bool:
    at = request.session.get("reauth_at")
    return bool(at) and time.time() - at < REAUTH_SECONDS


def _context(request: HttpRequest, error: str = "") -> dict:
    user = request.user
    sso = oidc.enabled() and Identity.objects.filter(user=user).exists()
    return {
        "export_url": export_url(),
        "uses_password": user.has_usable_password(),
        "sso": sso,
        "reauthenticated": recently_reauthenticated(request),
        "blocking_teams": sole_owner_of(user),
        "error": error,
    }


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/account.html", _context(request))


@login_required
@require_POST
def account_delete_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.has_usable_password():
        proven = user.check_password(request.POST.get("password", ""))
        error = "That password is not right: your account was not deleted."
    else:
        proven = recently_reauthenticated(request)
        error = f"Confirm with {settings.CHAT_OIDC_PROVIDER_NAME} first (it is valid for 5 minutes)."
    if not proven:
        return render(request, "accounts/account.html", _context(request, error), status=422)
    try:
        account_delete(user)
    except DeletionRefused as exc:
        return render(request, "accounts/account.html", _context(request, str(exc)), status=422)
    logout(request)
    return render(request, "accounts/deleted.html")
