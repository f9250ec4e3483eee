"""Sign-up, invitations (send and accept). Sign-in itself: Django's login page and sso_views."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.mail import send_mail
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from . import oidc, signup
from .forms import InvitationForm, InvitedSignupForm

PASSWORD_BACKEND = "chatsite.throttle.LoginBackend"


def signup_view(request: HttpRequest) -> HttpResponse:
    """Open sign-up with a password (CHAT_SIGNUP=open and passwords on); otherwise no such page."""
    if signup.mode() != signup.OPEN or not settings.CHAT_PASSWORD_LOGIN:
        raise Http404("Sign-up is turned off on this instance")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            signup.account_prepare(user)
        login(request, user, backend=PASSWORD_BACKEND)
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def invite(request: HttpRequest) -> HttpResponse:
    """Staff invite to any team or none; team owners to the teams they own."""
    teams = signup.invitable_teams(request.user)
    if not request.user.is_staff and not teams.exists():
        raise Http404("Only staff and team owners invite")
    form = InvitationForm(
        request.POST or None,
        teams=teams,
        team_required=not request.user.is_staff,
        initial={"team": request.GET.get("team") if request.GET.get("team", "").isdigit() else None},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            invitation, token = signup.invitation_create(
                email=data["email"], team=data["team"], role=data["role"], invited_by=request.user
            )
            _send_invitation(request, invitation, token)
            messages.success(
                request, f"Invitation sent to {invitation.email}. The link works once, for 7 days."
            )
            return redirect("invite")
        status = 422
    sent = signup.pending_invitations_any().filter(invited_by=request.user).select_related("team")[:50]
    return render(request, "accounts/invite.html", {"form": form, "sent": sent}, status=status)


def _send_invitation(request: HttpRequest, invitation, token: str) -> None:
    link = request.build_absolute_uri(reverse("invitation", args=[token]))
    where = f" to the team “{invitation.team.name}”" if invitation.team else ""
    body = (
        f"{request.user.get_username()} invites you{where} on Chat.\n\n"
        f"Open this link within {signup.INVITATION_DAYS} days; it works once:\n{link}\n"
    )
    send_mail("You are invited to Chat", body, None, [invitation.email])


def _unusable(request: HttpRequest, invitation) -> HttpResponse:
    """Used up meanwhile (404), or no longer honoured because of its inviter (403, saying why)."""
    refusal = signup.invitation_refusal(invitation)
    context = {"invalid": True, "refusal": refusal}
    return render(request, "accounts/invitation.html", context, status=403 if refusal else 404)


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = signup.invitation_by_token(token)
    if found is None and request.user.is_authenticated:
        # Signing in with the provider from the link already used it for this person: go on in.
        used = signup.invitation_used_by(token, request.user)
        if used is not None:
            return redirect("team_detail", used.team_id) if used.team_id else redirect("home")
    if found is None:
        return render(request, "accounts/invitation.html", {"invalid": True}, status=404)
    if signup.invitation_refusal(found):
        return _unusable(request, found)
    if request.user.is_authenticated:
        if request.method == "POST":
            accepted = signup.invitation_accept(found, request.user)
            if not accepted and signup.invitation_used_by(token, request.user) is None:
                return _unusable(request, found)
            return redirect("team_detail", found.team_id) if found.team_id else redirect("home")
        return render(request, "accounts/invitation.html", {"invitation": found})
    form = None
    if settings.CHAT_PASSWORD_LOGIN and signup.mode() != signup.CLOSED:
        form = InvitedSignupForm(request.POST or None, email=found.email)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                user = form.save()
                signup.account_prepare(user)
                accepted = signup.invitation_accept(found, user)
                if not accepted:
                    transaction.set_rollback(True)
            if accepted:
                login(request, user, backend=PASSWORD_BACKEND)
                return redirect("team_detail", found.team_id) if found.team_id else redirect("home")
            return _unusable(request, found)
    context = {"invitation": found, "form": form, "sso": oidc.enabled(), "next": request.path}
    return render(request, "accounts/invitation.html", context, status=422 if form and form.errors else 200)
