"""The skills a chat may load (conversations/skills/selectors.py): Anthropic's four, then the team's
own at their newest version; container_skills keeps the chosen ones still offered, at most 8."""

from datetime import timedelta

from django.utils import timezone

from conversations.models import TeamSkill, TeamSkillVersion
from conversations.skills import selectors
from conversations.skills.selectors import SkillUse
from teams import services as team_services

ANTHROPIC = [
    SkillUse("anthropic:pptx", "PowerPoint", "anthropic", "pptx", "latest"),
    SkillUse("anthropic:xlsx", "Excel", "anthropic", "xlsx", "latest"),
    SkillUse("anthropic:docx", "Word", "anthropic", "docx", "latest"),
    SkillUse("anthropic:pdf", "PDF", "anthropic", "pdf", "latest"),
]


def add_skill(team, title: str, skill_id: str, *versions: str) -> TeamSkill:
    skill = TeamSkill.objects.create(team=team, title=title, skill_id=skill_id)
    start = timezone.now() - timedelta(days=1)
    for i, version in enumerate(versions):
        made = TeamSkillVersion.objects.create(skill=skill, version=version)
        TeamSkillVersion.objects.filter(pk=made.pk).update(created_at=start + timedelta(minutes=i))
    return skill


def test_anthropics_four_then_the_teams_own_by_title_at_their_newest_version(team, people):
    add_skill(team, "Tone", "skill_tone", "1759178010641129", "1759178010641999")
    add_skill(team, "Briefs", "skill_briefs", "1759000000000001")
    other = team_services.team_create(user=people["outsider"], name="Elsewhere")
    add_skill(other, "Secret", "skill_secret", "1")

    assert selectors.for_team(None) == ANTHROPIC
    assert selectors.for_team(team.pk) == [
        *ANTHROPIC,
        SkillUse("custom:skill_briefs", "Briefs", "custom", "skill_briefs", "1759000000000001"),
        SkillUse("custom:skill_tone", "Tone", "custom", "skill_tone", "1759178010641999"),
    ]


def test_container_skills_keeps_the_chosen_ones_still_offered_in_order(team, people):
    add_skill(team, "Tone", "skill_tone", "11", "12")
    other = team_services.team_create(user=people["outsider"], name="Elsewhere")
    add_skill(other, "Secret", "skill_secret", "1")
    chosen = [
        "custom:skill_tone",
        "anthropic:pdf",
        "custom:skill_secret",
        "custom:skill_gone",
        "anthropic:xlsx",
    ]

    assert selectors.container_skills(chosen, team.pk) == [
        {"type": "anthropic", "skill_id": "xlsx", "version": "latest"},
        {"type": "anthropic", "skill_id": "pdf", "version": "latest"},
        {"type": "custom", "skill_id": "skill_tone", "version": "12"},
    ]
    # Outside a team only Anthropic's are offered; nothing chosen, nothing sent.
    assert selectors.container_skills(chosen, None) == [
        {"type": "anthropic", "skill_id": "xlsx", "version": "latest"},
        {"type": "anthropic", "skill_id": "pdf", "version": "latest"},
    ]
    assert selectors.container_skills([], team.pk) == []


def test_container_skills_sends_at_most_eight(team):
    for i in range(7):
        add_skill(team, f"Skill {i}", f"skill_{i}", "1")
    every = [use.key for use in selectors.for_team(team.pk)]
    assert len(every) == 11
    sent = selectors.container_skills(every, team.pk)
    assert len(sent) == 8
    assert [entry["skill_id"] for entry in sent] == [
        "pptx",
        "xlsx",
        "docx",
        "pdf",
        *[f"skill_{i}" for i in range(4)],
    ]
