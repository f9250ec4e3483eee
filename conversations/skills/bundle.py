"""A skill's upload read and checked before anything is sent to the API: a folder's files or a .zip,
safe relative paths, no symlinks, the count and size limits, and one SKILL.md at the skill's top
level whose front matter names the skill and says what it does. Pure: bytes in, a Bundle out, or a
BundleError saying what to fix."""

import io
import re
import stat
import zipfile
from dataclasses import dataclass

MAX_FILES = 200
NAME_MAX, DESCRIPTION_MAX = 64, 1024  # the API's limits on the front matter
NAME_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
RESERVED = ("anthropic", "claude")  # words the API refuses in a skill's name
XML_TAG = re.compile(r"<[^<>]+>")
KEY_LINE = re.compile(r"([A-Za-z0-9_-]+):(?:\s+(.*))?$")
BLOCK_SCALARS = {">", ">-", ">+", "|", "|-", "|+"}


class BundleError(ValueError):
    """Shown to the owner as it is."""


@dataclass(frozen=True)
class Bundle:
    name: str  # from SKILL.md's front matter
    description: str
    files: list[tuple[str, bytes]]  # paths under one top directory, as the API wants them

    def listing(self) -> list[dict]:
        """What a version keeps of its files: each path and size."""
        return [{"path": path, "size": len(data)} for path, data in self.files]


def check_limits(*, count: int, total: int, max_bytes: int) -> None:
    """The count and size limits, checked before any file is read."""
    if count > MAX_FILES:
        raise BundleError(f"A skill holds at most {MAX_FILES} files; this one has {count}.")
    if total > max_bytes:
        raise BundleError(
            f"A skill takes at most {_megabytes(max_bytes)} in all; this one takes {_megabytes(total)}."
        )


def from_files(files: list[tuple[str, bytes]], *, max_bytes: int) -> Bundle:
    """A folder's files, each as (its path in the folder, its bytes)."""
    files = [(path, data) for path, data in files if not _ignored(path)]
    if not files:
        raise BundleError("Choose a folder holding the skill's SKILL.md, or a .zip of it.")
    check_limits(count=len(files), total=sum(len(data) for _, data in files), max_bytes=max_bytes)
    return _bundle([(_clean(path), data) for path, data in files])


def from_zip(data: bytes, *, max_bytes: int) -> Bundle:
    """A .zip of the skill's folder (or of its files)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise BundleError("That file is not a readable .zip archive.") from exc
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir() and not _ignored(info.filename)]
        check_limits(count=len(entries), total=sum(info.file_size for info in entries), max_bytes=max_bytes)
        return _bundle([(_clean(info.filename), _read(archive, info)) for info in entries])


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if stat.S_ISLNK(info.external_attr >> 16):
        raise BundleError(f"{info.filename} is a symbolic link: a skill holds files only.")
    if info.flag_bits & 0x1:
        raise BundleError(f"{info.filename} is encrypted: zip the skill without a password.")
    try:
        return archive.read(info)  # never more than the file_size summed above
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise BundleError(f"{info.filename} could not be read from the .zip ({exc}).") from exc


def _ignored(path: str) -> bool:
    """What macOS adds to a folder or a zip of it."""
    parts = path.replace("\\", "/").split("/")
    return parts[-1] == ".DS_Store" or parts[0] == "__MACOSX"


def _clean(path: str) -> str:
    """A relative path with forward slashes; absolute ones and `..` are refused."""
    path = path.replace("\\", "/")
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        raise BundleError(f"{path}: absolute paths are not allowed in a skill.")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BundleError(f"{path}: a path in a skill may not lead out of its folder (..).")
    if not parts or "\x00" in path:
        raise BundleError(f"{path!r} is not a usable file name.")
    return "/".join(parts)


def _bundle(files: list[tuple[str, bytes]]) -> Bundle:
    paths = [path for path, _ in files]
    twice = sorted({path for path in paths if paths.count(path) > 1})
    if twice:
        raise BundleError(f"{twice[0]} appears twice in the upload.")
    top, relative = _split_top(paths)
    _check_one_skill_md(relative)
    skill_md = dict(zip(relative, (data for _, data in files), strict=True))["SKILL.md"]
    name, description = _front_matter_checked(skill_md)
    prefix = "" if top else f"{name}/"  # the API wants every file under one top directory
    return Bundle(name, description, [(prefix + path, data) for path, data in files])


def _split_top(paths: list[str]) -> tuple[str, list[str]]:
    """The one top directory every path is under, if there is one, and the paths below it."""
    firsts = {path.split("/", 1)[0] for path in paths}
    if len(firsts) == 1 and all("/" in path for path in paths):
        return firsts.pop(), [path.split("/", 1)[1] for path in paths]
    return "", paths


def _check_one_skill_md(relative: list[str]) -> None:
    if "SKILL.md" in relative:
        return
    nested = sorted(path for path in relative if path.rsplit("/", 1)[-1] == "SKILL.md")
    if len(nested) > 1:
        raise BundleError(
            f"This upload holds {len(nested)} SKILL.md files ({', '.join(nested[:3])}): "
            "upload one skill at a time."
        )
    if any(path.lower() == "skill.md" for path in relative):
        raise BundleError("Name the skill's instructions file SKILL.md, in capitals.")
    raise BundleError(
        "No SKILL.md at the skill's top level: upload the skill's folder (or a .zip of it) with its SKILL.md."
    )


def _front_matter_checked(skill_md: bytes) -> tuple[str, str]:
    try:
        text = skill_md.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleError("SKILL.md is not UTF-8 text.") from exc
    keys = front_matter(text)
    name, description = keys.get("name", "").strip(), keys.get("description", "").strip()
    if not name:
        raise BundleError("SKILL.md's front matter needs a name: (lowercase letters, digits and hyphens).")
    if len(name) > NAME_MAX or not NAME_PATTERN.fullmatch(name):
        raise BundleError(
            f"SKILL.md's name “{name[:80]}” must be at most {NAME_MAX} lowercase letters, digits and hyphens."
        )
    if any(word in name for word in RESERVED):
        raise BundleError(f"SKILL.md's name “{name}” may not contain “anthropic” or “claude”.")
    if not description:
        raise BundleError("SKILL.md's front matter needs a description: what it does and when to use it.")
    if len(description) > DESCRIPTION_MAX:
        raise BundleError(f"SKILL.md's description is at most {DESCRIPTION_MAX} characters.")
    if XML_TAG.search(name + description):
        raise BundleError("SKILL.md's name and description may not contain XML tags.")
    return name, description


def front_matter(text: str) -> dict[str, str]:
    """The top-level keys of a Markdown file's YAML front matter, each as text (plain, quoted, or a
    > or | block); nested values are kept as their raw text."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise BundleError(
            "SKILL.md must open with front matter: a --- line, name: and description:, and a --- line."
        )
    end = next((i for i, line in enumerate(lines) if i and line.strip() in ("---", "...")), None)
    if end is None:
        raise BundleError("SKILL.md's front matter has no closing --- line.")
    keys: dict[str, str] = {}
    key, style, values = None, "", []
    for line in [*lines[1:end], "end:"]:
        match = KEY_LINE.match(line)
        if match is None:
            if key is not None and (not line.strip() or line[:1].isspace()):
                values.append(line)
            continue
        if key is not None:
            keys[key] = _scalar(style, values)
        key, first = match.group(1), (match.group(2) or "").strip()
        style, values = (first, []) if first in BLOCK_SCALARS else ("", [first])
    return keys


def _scalar(style: str, lines: list[str]) -> str:
    if style.startswith("|"):
        return "\n".join(line.strip() for line in lines).strip()
    text = " ".join(line.strip() for line in lines if line.strip())
    if style:
        return text
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return re.sub(r"\s+#.*$", "", text)


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"
