"""Teams, their members, and system prompts (personal or team-owned) with immutable versions."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"  # manages members; edits prompts
        EDITOR = "editor"  # edits the team's prompts
        MEMBER = "member"  # uses the team's prompts

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def can_edit_prompts(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.EDITOR)


class SystemPrompt(models.Model):
    """A named prompt owned by one user or by one team. Its text lives in its versions."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="prompts"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="prompts")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=True, team__isnull=False)
                | Q(owner__isnull=False, team__isnull=True),
                name="prompt_has_one_owner",
            ),
            models.UniqueConstraint(fields=["team", "name"], name="unique_prompt_name_per_team"),
            models.UniqueConstraint(fields=["owner", "name"], name="unique_prompt_name_per_user"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def latest(self) -> "PromptVersion":
        return self.versions.order_by("-number").first()


class PromptVersion(models.Model):
    """Immutable: editing a prompt publishes a new version. Conversations pin one."""

    class CacheTTL(models.TextChoices):
        FIVE_MINUTES = "5m", "5 minutes"
        ONE_HOUR = "1h", "1 hour"

    prompt = models.ForeignKey(SystemPrompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    # Part of the version: the cache_control bytes sent with the text must not change under it.
    cache_ttl = models.CharField(max_length=2, choices=CacheTTL.choices, default=CacheTTL.FIVE_MINUTES)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["prompt", "number"], name="unique_version_number")]

    def __str__(self) -> str:
        return f"{self.prompt.name} v{self.number}"
