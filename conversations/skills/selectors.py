"""Reads about skills: the ones a chat may load in its code execution container (Anthropic's four
and its team's own), and a team's skills and versions for their pages, scoped to the team."""

from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery

from conversations.models import TeamSkill, TeamSkillVersion

ANTHROPIC_SKILLS = {"pptx": "PowerPoint", "xlsx": "Excel", "docx": "Word", "pdf": "PDF"}
MAX_CONTAINER_SKILLS = 8  # the API's limit per request


@dataclass(frozen=True)
class SkillUse:
    key: str  # "anthropic:pptx" or "custom:<skill_id>": what a chat's choice stores
    title: str
    type: str  # "anthropic" or "custom"
    skill_id: str
    version: str  # "latest" for Anthropic's; the newest TeamSkillVersion's for the team's


def for_team(team_id: int | None) -> list[SkillUse]:
    """Anthropic's four, then the team's own (by title); Anthropic's only for None."""
    offered = [
        SkillUse(f"anthropic:{skill_id}", title, "anthropic", skill_id, "latest")
        for skill_id, title in ANTHROPIC_SKILLS.items()
    ]
    if team_id is None:
        return offered
    for skill in team_skills(team_id):
        if skill.latest_version:  # a skill always has one; never offer one without
            offered.append(
                SkillUse(
                    f"custom:{skill.skill_id}", skill.title, "custom", skill.skill_id, skill.latest_version
                )
            )
    return offered


def container_skills(chosen: list[str], team_id: int | None) -> list[dict]:
    """The API's container.skills entries for the chosen keys that are still offered:
    [{"type": ..., "skill_id": ..., "version": ...}], in for_team's order; at most 8 (the API's limit)."""
    wanted = set(chosen)
    entries = [
        {"type": use.type, "skill_id": use.skill_id, "version": use.version}
        for use in for_team(team_id)
        if use.key in wanted
    ]
    return entries[:MAX_CONTAINER_SKILLS]


def team_skills(team_id: int) -> QuerySet[TeamSkill]:
    """The team's skills by title, each with `latest_version` (the API's) and `latest_at`."""
    newest = TeamSkillVersion.objects.filter(skill=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        TeamSkill.objects.filter(team_id=team_id)
        .annotate(
            latest_version=Subquery(newest.values("version")[:1]),
            latest_at=Subquery(newest.values("created_at")[:1]),
        )
        .order_by("title", "pk")
    )


def team_skill(team_id: int, skill_pk: int) -> TeamSkill | None:
    """The team's skill, or None (also for another team's)."""
    return TeamSkill.objects.filter(team_id=team_id, pk=skill_pk).select_related("team").first()


def skill_versions(skill: TeamSkill) -> list[TeamSkillVersion]:
    """Newest first, with their authors."""
    return list(skill.versions.select_related("author").order_by("-created_at", "-id"))
