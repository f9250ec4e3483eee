"""The memory tool's operations on one person's /memories tree, stored in the database.

The commands and their fields are those of the SDK's `memory_20250818` tool types (view, create,
str_replace, insert, delete, rename; tests/test_memory_store.py checks them against the SDK), and
the results read like the SDK's own file-system implementation. Every path is checked first: it
must be /memories or below it, with no `..` or `.` part, no empty part, no NUL or other control
character and no backslash. Anything refused or impossible raises MemoryRefused, whose message
goes back to the model as an `is_error` tool result; the tool loop goes on.

Limits: MAX_FILE_CHARS per file, MAX_TOTAL_CHARS and MAX_FILES per person.
"""

from typing import Annotated, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Length
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from .models import MemoryFile, MemorySetting

ROOT = "/memories"
MAX_PATH = 255
MAX_FILE_CHARS = 100_000
MAX_TOTAL_CHARS = 1_000_000
MAX_FILES = 500
LINE_WIDTH = 6


class MemoryRefused(Exception):
    """Told to the model as a tool error."""


# --- the commands, as the SDK's BetaMemoryTool20250818*Command types ----------------------------


class View(BaseModel):
    command: Literal["view"]
    path: str
    view_range: list[int] | None = None


class Create(BaseModel):
    command: Literal["create"]
    path: str
    file_text: str


class StrReplace(BaseModel):
    command: Literal["str_replace"]
    path: str
    old_str: str
    new_str: str


class Insert(BaseModel):
    command: Literal["insert"]
    path: str
    insert_line: int
    insert_text: str


class Delete(BaseModel):
    command: Literal["delete"]
    path: str


class Rename(BaseModel):
    command: Literal["rename"]
    old_path: str
    new_path: str


Command = Annotated[View | Create | StrReplace | Insert | Delete | Rename, Field(discriminator="command")]
COMMAND = TypeAdapter(Command)


# --- who has it on ---------------------------------------------------------------------------


def available() -> bool:
    """The instance allows memory (CHAT_MEMORY)."""
    return settings.CHAT_MEMORY


def is_enabled(user_id: int) -> bool:
    """Offered in this person's chats: the instance allows it and they turned it on."""
    return available() and MemorySetting.objects.filter(user_id=user_id, enabled=True).exists()


def set_enabled(user_id: int, enabled: bool) -> None:
    MemorySetting.objects.update_or_create(user_id=user_id, defaults={"enabled": enabled})


# --- paths -------------------------------------------------------------------------------------


def clean_path(path: str) -> str:
    """The path, without a trailing slash, if it lies inside /memories; else MemoryRefused."""
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise MemoryRefused("Refused: the path contains a NUL or another control character.")
    if "\\" in path:
        raise MemoryRefused("Refused: use / in memory paths, not \\.")
    if path != ROOT and not path.startswith(ROOT + "/"):
        raise MemoryRefused(f"Refused: memory paths are absolute and inside {ROOT}, got: {path[:200]}")
    path = path.rstrip("/") or ROOT
    parts = path[len(ROOT) :].split("/")[1:]
    if any(part in ("", ".", "..") for part in parts):
        raise MemoryRefused(f"Refused: a memory path may not contain '..', '.' or '//': {path[:200]}")
    if len(path) > MAX_PATH:
        raise MemoryRefused(f"Refused: memory paths are limited to {MAX_PATH} characters.")
    return path


def _under(path: str) -> Q:
    return Q(path__startswith=path.rstrip("/") + "/")


def _file(owner_id: int, path: str) -> MemoryFile | None:
    return MemoryFile.objects.filter(owner_id=owner_id, path=path).first()


def _is_directory(owner_id: int, path: str) -> bool:
    return path == ROOT or MemoryFile.objects.filter(_under(path), owner_id=owner_id).exists()


def _existing_file(owner_id: int, path: str) -> MemoryFile:
    found = _file(owner_id, path)
    if found is None:
        what = "is a directory, not a file" if _is_directory(owner_id, path) else "does not exist"
        raise MemoryRefused(f"The path {path} {what}. Please provide a valid path.")
    return found


def _check_room(owner_id: int, path: str, content: str, *, new: bool) -> None:
    if "\x00" in content:
        raise MemoryRefused("Refused: memory files cannot hold NUL characters.")
    if len(content) > MAX_FILE_CHARS:
        raise MemoryRefused(f"A memory file is limited to {MAX_FILE_CHARS:,} characters.")
    others = MemoryFile.objects.filter(owner_id=owner_id).exclude(path=path)
    total = others.aggregate(n=Sum(Length("content")))["n"] or 0
    if total + len(content) > MAX_TOTAL_CHARS:
        raise MemoryRefused(f"Memory is full ({MAX_TOTAL_CHARS:,} characters); delete something first.")
    if new and others.count() >= MAX_FILES:
        raise MemoryRefused(f"Memory holds at most {MAX_FILES} files; delete some first.")


# --- the operations ------------------------------------------------------------------------------


def _numbered(lines: list[str], first: int) -> str:
    return "\n".join(f"{n:>{LINE_WIDTH}}\t{line}" for n, line in enumerate(lines, start=first))


def _size(chars: int) -> str:
    return f"{chars}B" if chars < 1024 else f"{chars / 1024:.1f}K"


def view(owner_id: int, c: View) -> str:
    path = clean_path(c.path)
    found = _file(owner_id, path) if path != ROOT else None
    if found is not None:
        lines = found.content.split("\n")
        first = 1
        if c.view_range and len(c.view_range) == 2:
            start, end = max(1, c.view_range[0]), c.view_range[1]
            lines, first = lines[start - 1 : None if end == -1 else end], start
        return f"Here's the content of {path} with line numbers:\n" + _numbered(lines, first)
    if not _is_directory(owner_id, path):
        raise MemoryRefused(f"The path {path} does not exist. Please provide a valid path.")
    return _listing(owner_id, path)


def _listing(owner_id: int, path: str) -> str:
    """Files and directories up to two levels below `path`, hidden ones (".name") left out."""
    sizes: dict[str, int] = {}
    total = 0
    for file in MemoryFile.objects.filter(_under(path), owner_id=owner_id):
        parts = file.path[len(path) + 1 :].split("/")
        if any(part.startswith(".") for part in parts):
            continue
        total += len(file.content)
        for depth in range(1, min(len(parts), 2) + 1):
            entry = "/".join(parts[:depth]) + ("/" if depth < len(parts) else "")
            sizes[entry] = sizes.get(entry, 0) + len(file.content)
    entries = [f"{_size(size)}\t{path}/{entry}" for entry, size in sorted(sizes.items())]
    lines = [f"{_size(total)}\t{path}", *entries]
    header = f"Here're the files and directories up to 2 levels deep in {path}, excluding hidden items:"
    return header + "\n" + "\n".join(lines)


def create(owner_id: int, c: Create) -> str:
    path = clean_path(c.path)
    if path == ROOT or _is_directory(owner_id, path):
        raise MemoryRefused(f"{path} is a directory; give a file path.")
    parents = [path[:i] for i in range(len(ROOT), len(path)) if path[i] == "/"]
    if MemoryFile.objects.filter(owner_id=owner_id, path__in=parents).exists():
        raise MemoryRefused(f"A file lies on the way to {path}; a file cannot hold other files.")
    _check_room(owner_id, path, c.file_text, new=True)
    try:
        with transaction.atomic():
            MemoryFile.objects.create(owner_id=owner_id, path=path, content=c.file_text)
    except IntegrityError as exc:
        raise MemoryRefused(f"File {path} already exists") from exc
    return f"File created successfully at: {path}"


def str_replace(owner_id: int, c: StrReplace) -> str:
    path = clean_path(c.path)
    found = _existing_file(owner_id, path)
    count = found.content.count(c.old_str) if c.old_str else 0
    if count != 1:
        if count == 0:
            raise MemoryRefused(
                f"No replacement was performed, old_str `{c.old_str}` did not appear verbatim in {path}."
            )
        raise MemoryRefused(f"No replacement was performed. Multiple occurrences of old_str `{c.old_str}`.")
    content = found.content.replace(c.old_str, c.new_str)
    _check_room(owner_id, path, content, new=False)
    changed = found.content[: found.content.find(c.old_str)].count("\n")
    _save(found, content)
    lines = content.split("\n")
    start = max(0, changed - 2)
    snippet = _numbered(lines[start : changed + 3], start + 1)
    return (
        "The memory file has been edited. Here is the snippet showing the change (with line numbers):\n"
        + snippet
    )


def insert(owner_id: int, c: Insert) -> str:
    path = clean_path(c.path)
    found = _existing_file(owner_id, path)
    lines = found.content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not 0 <= c.insert_line <= len(lines):
        raise MemoryRefused(
            f"Invalid `insert_line` parameter: {c.insert_line}. "
            f"It should be within the range [0, {len(lines)}]."
        )
    lines.insert(c.insert_line, c.insert_text.rstrip("\n"))
    content = "\n".join(lines) + "\n"
    _check_room(owner_id, path, content, new=False)
    _save(found, content)
    return f"The file {path} has been edited."


def delete(owner_id: int, c: Delete) -> str:
    path = clean_path(c.path)
    if path == ROOT:
        raise MemoryRefused(f"Cannot delete the {ROOT} directory itself")
    deleted, _ = MemoryFile.objects.filter(Q(path=path) | _under(path), owner_id=owner_id).delete()
    if not deleted:
        raise MemoryRefused(f"The path {path} does not exist")
    return f"Successfully deleted {path}"


def rename(owner_id: int, c: Rename) -> str:
    old, new = clean_path(c.old_path), clean_path(c.new_path)
    if ROOT in (old, new):
        raise MemoryRefused(f"Cannot rename the {ROOT} directory itself")
    if new == old or new.startswith(old + "/"):
        raise MemoryRefused(f"Cannot move {old} into itself")
    if _file(owner_id, new) is not None or _is_directory(owner_id, new):
        raise MemoryRefused(f"The destination {new} already exists")
    moving = list(MemoryFile.objects.filter(Q(path=old) | _under(old), owner_id=owner_id))
    if not moving:
        raise MemoryRefused(f"The path {old} does not exist")
    if any(len(new + f.path[len(old) :]) > MAX_PATH for f in moving):
        raise MemoryRefused(f"Refused: memory paths are limited to {MAX_PATH} characters.")
    with transaction.atomic():
        for file in moving:
            file.path = new + file.path[len(old) :]
            file.save(update_fields=["path", "updated_at"])
    return f"Successfully renamed {old} to {new}"


def _save(found: MemoryFile, content: str) -> None:
    found.content = content
    found.save(update_fields=["content", "updated_at"])


OPERATIONS = {
    "view": view,
    "create": create,
    "str_replace": str_replace,
    "insert": insert,
    "delete": delete,
    "rename": rename,
}


def run(owner_id: int, tool_input: object) -> tuple[str, bool]:
    """One memory tool call for this person: (result text, is_error)."""
    try:
        command = COMMAND.validate_python(tool_input)
    except ValidationError as exc:
        return f"Invalid memory command: {exc.errors(include_url=False, include_input=False)}", True
    try:
        return OPERATIONS[command.command](owner_id, command), False
    except MemoryRefused as exc:
        return str(exc), True


# --- for the Memory page ------------------------------------------------------------------------


def files_of(owner_id: int) -> list[MemoryFile]:
    return list(MemoryFile.objects.filter(owner_id=owner_id).order_by("path"))


def file_edit(owner_id: int, file_id: int, content: str) -> MemoryFile | None:
    """Replace a file's text (the Memory page); None when it is not theirs. MemoryRefused past a limit."""
    found = MemoryFile.objects.filter(owner_id=owner_id, pk=file_id).first()
    if found is not None:
        _check_room(owner_id, found.path, content, new=False)
        _save(found, content)
    return found


def file_delete(owner_id: int, file_id: int) -> bool:
    return MemoryFile.objects.filter(owner_id=owner_id, pk=file_id).delete()[0] > 0


def clear(owner_id: int) -> int:
    return MemoryFile.objects.filter(owner_id=owner_id).delete()[0]
