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

``docx_bytes`` and ``xlsx_bytes`` build the smallest valid Word and Excel files (Office Open XML
zips: content types, package relationships, one document part or one worksheet), so a file the
fake's code execution made opens as what its name says.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

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


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN = "application/vnd.openxmlformats-officedocument"
_RELATIONSHIPS_TYPE = "application/vnd.openxmlformats-package.relationships+xml"


def docx_bytes(paragraphs: list[str]) -> bytes:
    """A minimal valid .docx: one paragraph per string."""
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs)
    document = (
        f'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}<w:sectPr/></w:body></w:document>"
    )
    return _package(
        {"word/document.xml": (f"{_MAIN}.wordprocessingml.document.main+xml", document)}, "word/document.xml"
    )


def xlsx_bytes(rows: list[list[str | int | float]]) -> bytes:
    """A minimal valid .xlsx: one sheet named Sheet1 holding the rows (text inline, numbers as values)."""
    sheet_rows = "".join(
        f'<row r="{r}">' + "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(row)) + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    workbook = (
        f'<workbook xmlns="{main}" xmlns:r="{_OFFICE}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    sheet = f'<worksheet xmlns="{main}"><sheetData>{sheet_rows}</sheetData></worksheet>'
    parts = {
        "xl/workbook.xml": (f"{_MAIN}.spreadsheetml.sheet.main+xml", workbook),
        "xl/_rels/workbook.xml.rels": ("", _relationships("worksheet", "worksheets/sheet1.xml")),
        "xl/worksheets/sheet1.xml": (f"{_MAIN}.spreadsheetml.worksheet+xml", sheet),
    }
    return _package(parts, "xl/workbook.xml")


def _cell(ref: str, value: str | int | float) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


def _column(index: int) -> str:
    """A spreadsheet column's letters: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _relationships(kind: str, target: str) -> str:
    return (
        f'<Relationships xmlns="{_PACKAGE}/relationships">'
        f'<Relationship Id="rId1" Type="{_OFFICE}/{kind}" Target="{target}"/></Relationships>'
    )


def _package(parts: dict[str, tuple[str, str]], main_part: str) -> bytes:
    """An OOXML zip: [Content_Types].xml first, the package relationships to the main part, the parts
    (name -> (content type, or "" for relationship parts, XML))."""
    overrides = "".join(
        f'<Override PartName="/{name}" ContentType="{kind}"/>' for name, (kind, _) in parts.items() if kind
    )
    types = (
        f'<Types xmlns="{_PACKAGE}/content-types">'
        f'<Default Extension="rels" ContentType="{_RELATIONSHIPS_TYPE}"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _XML + types)
        archive.writestr("_rels/.rels", _XML + _relationships("officeDocument", main_part))
        for name, (_, xml) in parts.items():
            archive.writestr(name, _XML + xml)
    return buffer.getvalue()
