"""The fake's skills API (fakes/skills.py), driven by the real anthropic SDK over a real socket: its
answers parse as the SDK's beta types, it keeps what it holds, and it refuses what the real API
refuses."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types.beta import BetaDeletedSkill, BetaSkill
from anthropic.types.beta.skills import BetaDeletedSkillVersion, BetaSkillVersion

from fakes import FakeAnthropic
from tests.helpers import sdk_client

BETAS = ["skills-2025-10-02"]
SKILL_MD = b"---\nname: tone\ndescription: >\n  Writes in the team's tone.\n  Use for replies.\n---\n# Tone\n"


def files(skill_md: bytes = SKILL_MD, top: str = "tone") -> list[tuple[str, bytes, str]]:
    return [
        (f"{top}/SKILL.md", skill_md, "text/markdown"),
        (f"{top}/scripts/run.py", b"print(1)\n", "text/x-python"),
    ]


@pytest.mark.asyncio
async def test_create_version_list_and_delete_as_the_sdk_types_parse_them(fake: FakeAnthropic) -> None:
    skills = sdk_client(fake).beta.skills
    skill = await skills.create(display_name="Team tone", files=files(), betas=BETAS)
    assert isinstance(skill, BetaSkill)
    assert skill.id.startswith("skill_") and skill.type == "skill" and skill.source.type == "custom"
    assert skill.display_name == "Team tone" and skill.latest_version_id.startswith("skillver_")
    first = skill.model_extra["latest_version"]  # the beta's epoch, beside the id
    assert first.isdigit() and len(first) == 16
    held = fake.skills.held[skill.id]
    assert held.versions[0].files == {"tone/SKILL.md": SKILL_MD, "tone/scripts/run.py": b"print(1)\n"}
    assert (held.versions[0].name, held.versions[0].description) == (
        "tone",
        "Writes in the team's tone. Use for replies.",
    )
    recorded = fake.requests[-1]
    assert recorded.path == "/v1/skills" and recorded.headers["anthropic-beta"] == "skills-2025-10-02"
    assert recorded.body["files"] == [
        {"path": "tone/SKILL.md", "size": len(SKILL_MD)},
        {"path": "tone/scripts/run.py", "size": 9},
    ]

    second = await skills.versions.create(skill.id, files=files(), betas=BETAS)
    assert isinstance(second, BetaSkillVersion) and second.skill_id == skill.id and second.name == "tone"
    assert int(second.model_extra["version"]) > int(first)
    assert (
        fake.skill_exists(skill.id)
        and fake.skill_exists(skill.id, first)
        and fake.skill_exists(skill.id, second.id)
    )
    assert fake.skill_version(skill.id, "latest") == second.model_extra["version"]
    assert not fake.skill_exists(skill.id, "1") and not fake.skill_exists("skill_unknown")

    listed = [v async for v in skills.versions.list(skill.id, betas=BETAS)]
    assert [v.model_extra["version"] for v in listed] == [second.model_extra["version"], first]
    assert all(isinstance(v, BetaSkillVersion) for v in listed)
    with pytest.raises(anthropic.BadRequestError, match="delete its versions first"):
        await skills.delete(skill.id, betas=BETAS)
    for version in listed:
        gone = await skills.versions.delete(version.model_extra["version"], skill_id=skill.id, betas=BETAS)
        assert isinstance(gone, BetaDeletedSkillVersion) and gone.type == "skill_version_deleted"
    deleted = await skills.delete(skill.id, betas=BETAS)
    assert isinstance(deleted, BetaDeletedSkill) and (deleted.id, deleted.type) == (skill.id, "skill_deleted")
    assert not fake.skill_exists(skill.id)
    with pytest.raises(anthropic.NotFoundError):
        await skills.retrieve(skill.id, betas=BETAS)


@pytest.mark.asyncio
async def test_without_the_beta_header_versions_are_addressed_by_id(fake: FakeAnthropic) -> None:
    skills = sdk_client(fake).beta.skills
    skill = await skills.create(files=files())
    assert "latest_version" not in (skill.model_extra or {}) and skill.display_name == "tone"
    with pytest.raises(anthropic.NotFoundError):
        await skills.versions.delete(fake.skill_version(skill.id), skill_id=skill.id)
    await skills.versions.delete(skill.latest_version_id, skill_id=skill.id)
    assert fake.skills.held[skill.id].versions == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ([], "at least one file"),
        ([("SKILL.md", SKILL_MD, "text/markdown")], "same top-level directory"),
        ([("a/SKILL.md", SKILL_MD, "text/markdown"), ("b/x.md", b"x", "text/markdown")], "same top-level"),
        (
            [("tone/README.md", b"# no skill", "text/markdown")],
            "SKILL.md file must be exactly in the top-level",
        ),
        (files(b"---\nname: tone\n---\n"), "with a name and a description"),
        (files(b"# No front matter\n"), "with a name and a description"),
        (files(SKILL_MD + b"x" * (8 * 2**20)), "exceed the 8 MB limit"),
    ],
)
async def test_it_refuses_what_the_real_api_refuses(fake: FakeAnthropic, upload, message: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message) as refused:
        await sdk_client(fake).beta.skills.create(files=upload, betas=BETAS)
    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert fake.skills.held == {}


@pytest.mark.asyncio
async def test_a_new_version_keeps_the_name_and_refusals_can_be_scripted(fake: FakeAnthropic) -> None:
    skills = sdk_client(fake).beta.skills
    skill = await skills.create(files=files(), betas=BETAS)
    renamed = files(b"---\nname: other\ndescription: Something else.\n---\n", top="other")
    with pytest.raises(anthropic.BadRequestError, match="The skill's name is 'tone'"):
        await skills.versions.create(skill.id, files=renamed, betas=BETAS)
    with pytest.raises(anthropic.NotFoundError):
        await skills.versions.create("skill_missing", files=files(), betas=BETAS)

    fake.skills.refuse = "Your organization has reached its skill limit."
    with pytest.raises(anthropic.BadRequestError, match="reached its skill limit"):
        await skills.create(files=files(), betas=BETAS)
    with pytest.raises(anthropic.BadRequestError, match="reached its skill limit"):
        await skills.versions.create(skill.id, files=files(), betas=BETAS)
    with pytest.raises(anthropic.BadRequestError, match="reached its skill limit"):
        await skills.versions.delete(fake.skill_version(skill.id), skill_id=skill.id, betas=BETAS)
    assert len(fake.skills.held[skill.id].versions) == 1
    fake.reset()
    assert fake.skills.refuse is None and fake.skills.held == {}
