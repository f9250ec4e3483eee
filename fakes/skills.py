"""The fake's skills API: ``/v1/skills`` create, retrieve and delete, and each skill's versions
(create, list, delete), in the wire shapes of the SDK's beta types (``BetaSkill``,
``BetaSkillVersion``, ``BetaDeletedSkill``, ``BetaDeletedSkillVersion``, ``AsyncPageCursor``), as
tests/test_fake_skills.py checks with the SDK itself::

    files = [("tone/SKILL.md", md, "text/markdown")]
    skill = await client.beta.skills.create(display_name="Tone", files=files, betas=["skills-2025-10-02"])
    fake.skills.held[skill.id].versions[-1].files   # {"tone/SKILL.md": md}
    fake.skill_exists(skill.id, "latest")           # what a messages request may name: True
    fake.skill_version(skill.id, "latest")          # its newest version's epoch, None if not held
    fake.skills.refuse = "Skill quota reached"      # every create and delete answers this 400 until reset()

A version has an id (``skillver_...``) and a Unix-epoch ``version`` in microseconds. Under the
``skills-2025-10-02`` beta header, as the real API does, paths address a version by its epoch and
the answers carry it (``version``; ``latest_version`` on a skill, beside ``latest_version_id``);
without the header, by its id.

It refuses what the real API refuses, with a 400 ``invalid_request_error`` and a plain message:
files outside one top-level directory, no SKILL.md at its root, front matter without ``name`` or
``description``, more than 8 MB in all, a new version whose name differs from the skill's, and
deleting a skill that still has versions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from fakes.wire import RecordedRequest, error_response, new_id, request_id_header

BETA = "skills-2025-10-02"
MAX_BYTES = 8 * 2**20
DEFAULT_PAGE_SIZE = 20


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class StoredVersion:
    id: str
    version: str  # Unix epoch in microseconds, what the skills beta addresses versions by
    name: str
    description: str
    files: dict[str, bytes]
    created_at: str = field(default_factory=_now)

    def wire(self, skill_id: str, beta: bool) -> dict[str, Any]:
        body = {
            "type": "skill_version",
            "id": self.id,
            "skill_id": skill_id,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
        }
        return {**body, "version": self.version} if beta else body


@dataclass
class StoredSkill:
    id: str
    display_name: str
    name: str  # the first version's, which every later one must keep
    versions: list[StoredVersion] = field(default_factory=list)  # oldest first
    created_at: str = field(default_factory=_now)

    def wire(self, beta: bool) -> dict[str, Any]:
        latest = self.versions[-1]
        body = {
            "type": "skill",
            "id": self.id,
            "display_name": self.display_name,
            "source": {"type": "custom"},
            "latest_version_id": latest.id,
            "created_at": self.created_at,
            "updated_at": latest.created_at,
        }
        return {**body, "latest_version": latest.version} if beta else body

    def find(self, version: str) -> StoredVersion | None:
        if version == "latest":
            return self.versions[-1] if self.versions else None
        return next((v for v in self.versions if version in (v.id, v.version)), None)


class FakeSkills:
    """The store and its routes; `keep` records each request in the fake's ``requests``."""

    def __init__(self, keep: Callable[[RecordedRequest], None]) -> None:
        self._keep = keep
        self.held: dict[str, StoredSkill] = {}
        self.refuse: str | None = None  # a message: every create and delete is refused with it
        self._last_epoch = 0

    def reset(self) -> None:
        self.held.clear()
        self.refuse = None

    def resolve(self, skill_id: str, version: str = "latest") -> str | None:
        """A held custom skill's version ("latest", an epoch or a version id) as its epoch; None when
        the skill or the version is not held."""
        skill = self.held.get(skill_id)
        found = skill.find(str(version)) if skill is not None else None
        return found.version if found is not None else None

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/skills", self._create)
        router.add_get("/v1/skills/{skill_id}", self._retrieve)
        router.add_delete("/v1/skills/{skill_id}", self._delete)
        router.add_post("/v1/skills/{skill_id}/versions", self._version_create)
        router.add_get("/v1/skills/{skill_id}/versions", self._version_list)
        router.add_delete("/v1/skills/{skill_id}/versions/{version}", self._version_delete)

    # --- handlers -----------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        form, files = await self._upload(request)
        checked = self._check(files)
        if isinstance(checked, web.Response):
            return checked
        version = self._new_version(checked, files)
        title = str(form.get("display_name") or form.get("display_title") or version.name)
        skill = StoredSkill(new_id("skill_"), title, version.name, [version])
        self.held[skill.id] = skill
        return web.json_response(skill.wire(_beta(request)), headers=request_id_header())

    async def _retrieve(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response(found.wire(_beta(request)), headers=request_id_header())

    async def _delete(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        if found.versions:
            message = "Cannot delete a skill that has versions: delete its versions first."
            return error_response(400, "invalid_request_error", message)
        del self.held[found.id]
        return web.json_response({"id": found.id, "type": "skill_deleted"}, headers=request_id_header())

    async def _version_create(self, request: web.Request) -> web.Response:
        found = self._found(request, record=False)
        _, files = await self._upload(request)
        if isinstance(found, web.Response):
            return found
        checked = self._check(files)
        if isinstance(checked, web.Response):
            return checked
        if checked[0] != found.name:
            message = f"The skill's name is {found.name!r}; this upload's SKILL.md names {checked[0]!r}."
            return error_response(400, "invalid_request_error", message)
        version = self._new_version(checked, files)
        found.versions.append(version)
        return web.json_response(version.wire(found.id, _beta(request)), headers=request_id_header())

    async def _version_list(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        newest_first = [v.wire(found.id, _beta(request)) for v in reversed(found.versions)]
        limit = int(request.query.get("limit", DEFAULT_PAGE_SIZE))
        start = int(request.query.get("page", "page_0").removeprefix("page_") or 0)
        more = start + limit < len(newest_first)
        page = {
            "data": newest_first[start : start + limit],
            "next_page": f"page_{start + limit}" if more else None,
        }
        return web.json_response(page, headers=request_id_header())

    async def _version_delete(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        wanted = request.match_info["version"]
        version = next((v for v in found.versions if wanted == (v.version if _beta(request) else v.id)), None)
        if version is None:
            return error_response(404, "not_found_error", f"Skill version not found: {wanted}")
        found.versions.remove(version)
        deleted = {"id": version.version if _beta(request) else version.id, "type": "skill_version_deleted"}
        return web.json_response(deleted, headers=request_id_header())

    # --- shared -------------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        """The multipart form and its files, recorded as {"display_name", "files": [{"path", "size"}]}."""
        form = await request.post()
        files = {
            part.filename: part.file.read()
            for name, part in form.items()
            if name in ("files[]", "files") and isinstance(part, web.FileField)
        }
        listing = [{"path": path, "size": len(data)} for path, data in files.items()]
        self._keep(RecordedRequest.of(request, {"display_name": form.get("display_name"), "files": listing}))
        return form, files

    def _found(self, request: web.Request, record: bool = True) -> StoredSkill | web.Response:
        if record:
            self._keep(RecordedRequest.of(request, {}))
        skill_id = request.match_info["skill_id"]
        skill = self.held.get(skill_id)
        if skill is not None and self.refuse and request.method != "GET":
            return error_response(400, "invalid_request_error", self.refuse)
        return (
            skill
            if skill is not None
            else error_response(404, "not_found_error", f"Skill not found: {skill_id}")
        )

    def _check(self, files: dict[str, bytes]) -> tuple[str, str] | web.Response:
        """The SKILL.md's (name, description), or the 400 the real API answers."""
        problem = self.refuse or _problem(files)
        if problem:
            return error_response(400, "invalid_request_error", problem)
        top = next(iter(files)).split("/", 1)[0]
        return _front_matter(files[f"{top}/SKILL.md"].decode("utf-8", "replace"))  # type: ignore[return-value]

    def _new_version(self, checked: tuple[str, str], files: dict[str, bytes]) -> StoredVersion:
        self._last_epoch = max(self._last_epoch + 1, time.time_ns() // 1000)
        return StoredVersion(new_id("skillver_"), str(self._last_epoch), *checked, files)


def _beta(request: web.Request) -> bool:
    return BETA in request.headers.get("anthropic-beta", "")


def _problem(files: dict[str, bytes]) -> str | None:
    if not files:
        return "files: at least one file is required."
    if sum(len(data) for data in files.values()) > MAX_BYTES:
        return "The skill's files exceed the 8 MB limit."
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) != 1 or any("/" not in path for path in files):
        return "All files must be in the same top-level directory."
    top = tops.pop()
    if f"{top}/SKILL.md" not in files:
        return f"SKILL.md file must be exactly in the top-level folder ({top}/SKILL.md)."
    name, description = _front_matter(files[f"{top}/SKILL.md"].decode("utf-8", "replace"))
    if not name or not description:
        return "SKILL.md must have YAML frontmatter with a name and a description."
    return None


def _front_matter(text: str) -> tuple[str, str]:
    """SKILL.md's name and description (a plain value, or a > or | block's lines)."""
    head = re.match(r"\ufeff?---\r?\n(.*?)\r?\n---", text, re.DOTALL)
    found = {}
    for key in ("name", "description"):
        match = head and re.search(rf"^{key}:[ \t]*(.*(?:\n[ \t]+.*)*)", head.group(1), re.MULTILINE)
        value = " ".join(match.group(1).split()) if match else ""
        found[key] = value.lstrip(">|-+ ").strip("\"'")
    return found["name"], found["description"]
