"""The fake's Files API: ``/v1/files`` upload, list, retrieve metadata, download and delete.

An in-memory store on the same server as the fake Messages API (``fake.files``), in the wire
shapes of the SDK's types (``FileMetadata``, ``DeletedFile``, ``PageCursor``), as
tests/test_fakes.py checks with the SDK itself::

    meta = await client.files.upload(file=("a.png", data, "image/png"))
    fake.files.stored[meta.id].data == data
    fake.files.expire(meta.id)      # later uses: 404 with error_code "file_expired"
    fake.files.fail_uploads = 503   # every upload answers this status until reset()

A ``/v1/messages`` (or count_tokens) request whose ``{"type": "file"}`` source names a file the
store does not have, or one expired, is refused with a 404 before any script is used, as the real
API refuses it; ``FileExpiredError`` for an expired one (the SDK picks the class by error_code).

Uploads are recorded in ``fake.requests`` with the body ``{"filename", "mime_type", "size_bytes"}``
(the multipart bytes are not JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from fakes.wire import RecordedRequest, error_response, new_id, request_id_header

DEFAULT_PAGE_SIZE = 20


@dataclass
class StoredFile:
    id: str
    filename: str
    mime_type: str
    data: bytes
    created_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    expired: bool = False
    downloadable: bool = False  # only files code execution made can be downloaded

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "created_at": self.created_at,
            "downloadable": self.downloadable,
        }


class FakeFiles:
    """The store and its routes; `keep` records each request in the fake's ``requests``."""

    def __init__(self, keep: Callable[[RecordedRequest], None]) -> None:
        self._keep = keep
        self.stored: dict[str, StoredFile] = {}  # insertion order: oldest first
        self.deleted: list[str] = []
        self.fail_uploads: int | None = None

    def reset(self) -> None:
        self.stored.clear()
        self.deleted.clear()
        self.fail_uploads = None

    def add_produced(self, file_id: str, filename: str, mime_type: str, data: bytes) -> None:
        """A file code execution made: downloadable, unlike uploads."""
        self.stored[file_id] = StoredFile(file_id, filename, mime_type, data, downloadable=True)

    def expire(self, file_id: str) -> None:
        self.stored[file_id].expired = True

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/files", self._upload)
        router.add_get("/v1/files", self._list)
        router.add_get("/v1/files/{file_id}", self._retrieve)
        router.add_get("/v1/files/{file_id}/content", self._download)
        router.add_delete("/v1/files/{file_id}", self._delete)

    # --- the Messages API's side --------------------------------------------------------------

    def missing_file_error(self, body: dict[str, Any]) -> web.Response | None:
        """A 404 for the first file source the store cannot serve; None when all are there."""
        for file_id in _file_sources(body):
            stored = self.stored.get(file_id)
            if stored is None:
                return error_response(404, "not_found_error", f"File not found: {file_id}")
            if stored.expired:
                return error_response(
                    404, "not_found_error", f"File expired: {file_id}", error_code="file_expired"
                )
        return None

    # --- handlers -----------------------------------------------------------------------------

    def _record(self, request: web.Request, body: dict[str, Any]) -> None:
        self._keep(RecordedRequest.of(request, body))

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            self._record(request, {})
            return error_response(400, "invalid_request_error", "file: a file part is required")
        data = upload.file.read()
        filename = (upload.filename or "").rsplit("/", 1)[-1] or "unnamed"
        mime_type = upload.content_type or "application/octet-stream"
        self._record(request, {"filename": filename, "mime_type": mime_type, "size_bytes": len(data)})
        if self.fail_uploads is not None:
            return error_response(self.fail_uploads, "api_error", "fake upload failure")
        stored = StoredFile(new_id("file_"), filename, mime_type, data)
        self.stored[stored.id] = stored
        return web.json_response(stored.metadata(), headers=request_id_header())

    async def _list(self, request: web.Request) -> web.Response:
        self._record(request, {})
        ids = request.query.getall("ids[]", []) or request.query.getall("ids", [])
        files = [f for f in self.stored.values() if not f.expired]
        if ids:
            wanted = set(ids)
            return web.json_response(
                {"data": [f.metadata() for f in files if f.id in wanted], "next_page": None},
                headers=request_id_header(),
            )
        limit = int(request.query.get("limit", DEFAULT_PAGE_SIZE))
        start = int(request.query.get("page", "page_0").removeprefix("page_") or 0)
        page = files[start : start + limit]
        more = start + limit < len(files)
        return web.json_response(
            {"data": [f.metadata() for f in page], "next_page": f"page_{start + limit}" if more else None},
            headers=request_id_header(),
        )

    def _found(self, request: web.Request) -> StoredFile | web.Response:
        self._record(request, {})
        file_id = request.match_info["file_id"]
        stored = self.stored.get(file_id)
        if stored is None:
            return error_response(404, "not_found_error", f"File not found: {file_id}")
        return stored

    async def _retrieve(self, request: web.Request) -> web.Response:
        found = self._found(request)
        return (
            found
            if isinstance(found, web.Response)
            else web.json_response(found.metadata(), headers=request_id_header())
        )

    async def _download(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        if not found.downloadable:
            return error_response(400, "invalid_request_error", f"File {found.id} is not downloadable")
        return web.Response(body=found.data, content_type=found.mime_type, headers=request_id_header())

    async def _delete(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        del self.stored[found.id]
        self.deleted.append(found.id)
        return web.json_response({"id": found.id, "type": "file_deleted"}, headers=request_id_header())


def _file_sources(value: Any):
    """Every file_id a request body's `{"type": "file", "file_id": ...}` sources name."""
    if isinstance(value, dict):
        if value.get("type") == "file" and isinstance(value.get("file_id"), str):
            yield value["file_id"]
        for item in value.values():
            yield from _file_sources(item)
    elif isinstance(value, list):
        for item in value:
            yield from _file_sources(item)
