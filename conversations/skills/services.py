"""Writes about a team's skills: upload one (a new skill, or a new version of it) and delete one. The
upload is checked first (bundle.py), then sent to the API's skills (llm.py), then recorded; a
refusal changes nothing. A delete goes to the API first: if it fails, the rows stay and say why."""

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from conversations.claude import llm
from conversations.models import TeamSkill, TeamSkillVersion
from conversations.skills import bundle
from conversations.skills.bundle import Bundle, BundleError

TITLE_MAX, NOTE_MAX = 100, 200  # the columns'


class SkillError(Exception):
    """Shown to the owner as it is."""


@dataclass(frozen=True)
class Upload:
    """What an owner chose: a folder's files, each (its path in the folder, its bytes), or a .zip."""

    files: tuple[tuple[str, bytes], ...] = ()
    zip_data: bytes | None = None


def upload_read(*, upload: Upload) -> Bundle:
    """The upload checked as the API would check it, and more (bundle.py); SkillError says what to fix."""
    max_bytes = settings.CHAT_SKILL_MAX_BYTES
    try:
        if upload.zip_data is not None:
            return bundle.from_zip(upload.zip_data, max_bytes=max_bytes)
        return bundle.from_files(list(upload.files), max_bytes=max_bytes)
    except BundleError as exc:
        raise SkillError(str(exc)) from exc


async def skill_create(*, team_id: int, user, title: str, note: str, upload: Upload) -> TeamSkill:
    """A new skill of the team: its files go to the API, then the skill and its first version are
    recorded, by `user`. The title defaults to SKILL.md's name."""
    checked = upload_read(upload=upload)
    title, note = _title(title.strip() or checked.name), _note(note)
    try:
        skill_id, version = await llm.skill_create(title, checked.files)
    except llm.SKILL_ERRORS as exc:
        raise SkillError(f"Not uploaded: {llm.describe_error(exc)[0]}.") from exc
    return await sync_to_async(_skill_record)(
        team_id=team_id,
        user=user,
        title=title,
        skill_id=skill_id,
        version=version,
        note=note,
        checked=checked,
    )


def _skill_record(*, team_id: int, user, title: str, skill_id: str, version: str, note: str, checked: Bundle):
    with transaction.atomic():
        skill = TeamSkill.objects.create(team_id=team_id, title=title, skill_id=skill_id, created_by=user)
        TeamSkillVersion.objects.create(
            skill=skill, version=version, files=checked.listing(), note=note, author=user
        )
    return skill


async def skill_version_add(*, skill: TeamSkill, user, note: str, upload: Upload) -> TeamSkillVersion:
    """A new version of the skill (its whole folder again), by `user`, with their note of what changed."""
    checked, note = upload_read(upload=upload), _note(note)
    try:
        version = await llm.skill_version_create(skill.skill_id, checked.files)
    except llm.SKILL_ERRORS as exc:
        raise SkillError(f"Not uploaded: {llm.describe_error(exc)[0]}.") from exc
    return await TeamSkillVersion.objects.acreate(
        skill=skill, version=version, files=checked.listing(), note=note, author=user
    )


async def skill_delete(*, skill: TeamSkill) -> None:
    """Delete the skill from the API (its versions first), then its rows; chats that chose it stop
    sending it (selectors.container_skills offers it no more)."""
    try:
        await llm.skill_delete(skill.skill_id)
    except llm.SKILL_ERRORS as exc:
        raise SkillError(f"Not deleted: {llm.describe_error(exc)[0]}. The skill is kept.") from exc
    await skill.adelete()


def _title(title: str) -> str:
    title = title.strip()
    if len(title) > TITLE_MAX:
        raise SkillError(f"A skill's title is at most {TITLE_MAX} characters.")
    return title


def _note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise SkillError(f"The note is at most {NOTE_MAX} characters: say briefly what changed.")
    return note
