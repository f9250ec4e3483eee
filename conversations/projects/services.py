"""Writes about projects. Each runs in one transaction, so a refused one changes nothing; the
instructions are written by the team prompts' own services (a new version per edit)."""

import hashlib

from django.conf import settings
from django.db import IntegrityError, transaction

from conversations import attachments as files
from conversations import storage
from conversations.models import Conversation, Project, ProjectFile, ProjectPassage
from conversations.projects import passages
from teams import services as prompts
from teams.models import PromptVersion, Team

# The instructions' cache lifetime: the knowledge after them is cached for an hour, and the API
# wants no 1-hour breakpoint after a 5-minute one.
INSTRUCTIONS_TTL = PromptVersion.CacheTTL.ONE_HOUR
NAME_MAX = 90  # the instructions prompt is named "Project: <name>" (100 characters at most)


class ProjectError(Exception):
    """Shown to the user as it is."""


def _instructions_name(name: str) -> str:
    return f"Project: {name}"


def project_create(*, user, name: str, instructions: str, team: Team | None) -> Project:
    """A project owned by `team` (its members chat in it) or by `user` alone."""
    name = name.strip()
    if not name:
        raise ProjectError("A project needs a name.")
    if len(name) > NAME_MAX:
        raise ProjectError(f"A project's name is at most {NAME_MAX} characters.")
    if not instructions.strip():
        raise ProjectError("A project needs instructions: say what Claude should know or do in it.")
    try:
        with transaction.atomic():
            prompt = prompts.prompt_create(
                user=user,
                name=_instructions_name(name),
                text=instructions,
                team=team,
                cache_ttl=INSTRUCTIONS_TTL,
            )
            return Project.objects.create(
                name=name, team=team, owner=None if team else user, instructions=prompt
            )
    except prompts.TeamError as exc:
        where = f"team {team.name}" if team else "your projects"
        raise ProjectError(f"There is already a project named “{name}” in {where}.") from exc


def project_delete(*, project: Project) -> None:
    """Delete the project and its knowledge files; its chats stay, out of the project.

    - Each chat (everyone's) is kept and goes on without the knowledge: its next request carries
      the instructions' version it pinned, as any chat on a prompt, and no document.
    - The instructions: a prompt no chat pins is deleted with its versions. One that chats pin
      stays, as an ordinary prompt of the team (or person), renamed "Deleted project N: <name>"
      (so a new project may take the name), on the Prompts page and in the picker.
    - Each file leaves our storage when the delete commits, and the Files API by the
      RemoteFileDeletion queue (attachment_files.py), as a removed file does.
    - Its usage stays in the usage figures, as no project's."""
    prompt, project_id = project.instructions, project.pk
    with transaction.atomic():
        project.delete()  # the files cascade (their post_delete queues them); chats SET_NULL
        if Conversation.objects.filter(prompt_version__prompt=prompt).exists():
            prompt.name = f"Deleted project {project_id}: {project.name}"[:100]
            prompt.save(update_fields=["name"])
        else:
            prompt.delete()


def project_instructions_edit(*, user, project: Project, instructions: str) -> PromptVersion | None:
    """Publish a new version of the instructions (chats started before keep theirs); None when
    nothing changed."""
    try:
        return prompts.prompt_edit(
            user=user,
            prompt=project.instructions,
            name=project.instructions.name,
            text=instructions,
            cache_ttl=INSTRUCTIONS_TTL,
        )
    except prompts.TeamError as exc:
        raise ProjectError(str(exc)) from exc


def project_file_add(*, user, project: Project, name: str, data: bytes) -> tuple[ProjectFile, bool]:
    """Check a knowledge file as a chat's upload is checked (attachments.process), store it once
    per project and content, and keep the project within its caps. (the file, whether it is new)"""
    processed = files.process(name, data)  # Refused, with the reason, for a file the API cannot read
    found = passages.passages_of(processed.media_type, processed.data)  # for retrieval (retrieval.py)
    digest = hashlib.sha256(processed.data).hexdigest()
    extension = processed.media_type.split("/")[1]
    key = f"projects/{project.pk}/{digest[:2]}/{digest}.{extension}"
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # one add at a time
        existing = project.files.filter(sha256=digest).first()
        if existing is not None:
            return existing, False
        _check_caps(project, name, len(processed.data))
        storage.save(key, processed.data)
        try:
            with transaction.atomic():
                added = ProjectFile.objects.create(
                    project=project, added_by=user, **files.stored_fields(name, processed, digest, key)
                )
                ProjectPassage.objects.bulk_create(
                    ProjectPassage(project=project, file=added, position=i, page=p.page, text=p.text)
                    for i, p in enumerate(found)
                )
        except IntegrityError:  # the same file added twice at once (no row lock on PostgreSQL races)
            return project.files.get(sha256=digest), False
    return added, True


def project_file_passages_build(*, file: ProjectFile) -> int:
    """Store the passages of a file added before passages were (retrieval.missing_passages_build);
    nothing when it has some already, or when another request built them first. How many it stored."""
    if file.passages.exists():
        return 0
    try:
        data = storage.read(file.storage_key)
    except OSError:  # its bytes are gone: nothing to search
        return 0
    found = passages.passages_of(file.media_type, data)
    try:
        with transaction.atomic():
            made = ProjectPassage.objects.bulk_create(
                ProjectPassage(project_id=file.project_id, file=file, position=i, page=p.page, text=p.text)
                for i, p in enumerate(found)
            )
    except IntegrityError:  # built at the same time by another question
        return 0
    return len(made)


def _check_caps(project: Project, name: str, size: int) -> None:
    count, total = 0, 0
    for file_size in project.files.values_list("size", flat=True):
        count, total = count + 1, total + file_size
    if count >= settings.CHAT_PROJECT_MAX_FILES:
        raise files.Refused(f"{name}: a project holds at most {settings.CHAT_PROJECT_MAX_FILES} files.")
    limit = settings.CHAT_PROJECT_MAX_MB * 2**20
    if total + size > limit:
        raise files.Refused(
            f"{name}: a project's files may take {settings.CHAT_PROJECT_MAX_MB} MB in all; "
            f"{total / 2**20:.1f} MB are used."
        )


def project_file_token_count_set(*, file_id: int, token_count: int) -> None:
    ProjectFile.objects.filter(pk=file_id).update(token_count=token_count)


def project_file_delete(*, project: Project, file_id: int) -> bool:
    """Remove a knowledge file; the next request of every chat in the project goes without it
    (its copy in the Files API is deleted by the sweep: attachment_files.py)."""
    deleted, _ = project.files.filter(pk=file_id).delete()
    return bool(deleted)
