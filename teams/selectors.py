"""Reads, always scoped to the requesting user. Someone outside a team sees none of it."""

from django.db.models import Q, QuerySet

from .models import Membership, PromptVersion, SystemPrompt, Team


def teams_for_user(user) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).order_by("name")


def membership_for(user, team_id: int) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("team").filter(user=user, team_id=team_id).first()


def prompts_usable_by(user) -> QuerySet[SystemPrompt]:
    """The user's own prompts and their teams' prompts: what the picker offers."""
    return (
        SystemPrompt.objects.filter(Q(owner=user) | Q(team__memberships__user=user))
        .select_related("team")
        .distinct()
        .order_by("team__name", "name")
    )


def prompts_to_choose(user) -> QuerySet[SystemPrompt]:
    """What the Prompts page lists and the System prompt picker offers: the usable prompts but a
    project's instructions (conversations.Project), which go with the chats started in it alone."""
    return prompts_usable_by(user).filter(project__isnull=True)


def prompt_access(user, prompt_id: int) -> tuple[SystemPrompt, bool] | None:
    """(prompt, can_edit), or None when the user may not see it."""
    if not user.is_authenticated:
        return None
    prompt = SystemPrompt.objects.select_related("team").filter(pk=prompt_id).first()
    if prompt is None:
        return None
    if prompt.owner_id is not None:
        return (prompt, True) if prompt.owner_id == user.pk else None
    membership = Membership.objects.filter(team_id=prompt.team_id, user=user).first()
    return (prompt, membership.can_edit_prompts) if membership else None


def teams_user_can_publish_to(user) -> QuerySet[Team]:
    return Team.objects.filter(
        memberships__user=user, memberships__role__in=[Membership.Role.OWNER, Membership.Role.EDITOR]
    ).order_by("name")


def versions_with_diffs(prompt: SystemPrompt) -> list[tuple[PromptVersion, list[tuple[str, str]]]]:
    """Newest first; each with its diff against the version before it, as (css class, line)."""
    import difflib

    versions = list(prompt.versions.select_related("author").order_by("number"))
    result = []
    previous = ""
    for version in versions:
        lines = difflib.unified_diff(previous.splitlines(), version.text.splitlines(), lineterm="", n=2)
        diff = [
            ("added" if line.startswith("+") else "removed" if line.startswith("-") else "context", line)
            for line in list(lines)[2:]  # skip the ---/+++ header
        ]
        result.append((version, diff))
        previous = version.text
    return result[::-1]
