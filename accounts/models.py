"""Who may have an account and how they sign in: identities at the company's OIDC provider,
invitations by email, and each team's (stricter) retention policy."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Identity(models.Model):
    """An account at the OIDC provider, found again by (issuer, subject): email addresses change."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_identity")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class Invitation(models.Model):
    """Single use, expiring. Only a hash of the token is stored: the link is in the email alone."""

    email = models.EmailField(max_length=254)
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, default="member")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["email"], condition=Q(accepted_at__isnull=True), name="pending_invite")
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"


class TeamRetention(models.Model):
    """A team's own retention, in days: used only when stricter than CHAT_RETENTION_DAYS."""

    team = models.OneToOneField("teams.Team", on_delete=models.CASCADE, related_name="retention")
    days = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.team}: {self.days} days"


class SignedInSession(models.Model):
    """Which session keys a user signed in with, so deactivation can end them all at once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"session of {self.user_id}"
