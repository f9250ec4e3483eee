# Self-tests for skills in the fake's code execution container (fakes/server_tools.py) and the Word
# and Excel files its code makes (fakes/files.py), driving the REAL anthropic SDK over a real socket.
from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

import anthropic
import pytest
from anthropic.types.beta import BetaBashCodeExecutionToolResultBlock

from fakes import Code, FakeAnthropic, GroundedReply
from fakes.server_tools import docx_output, xlsx_output
from tests.helpers import sdk_client

MODEL = "claude-sonnet-4-6"
BETAS = ["skills-2025-10-02"]
CODE = [{"type": "code_execution_20260521", "name": "code_execution"}]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SKILL_MD = b"---\nname: tone\ndescription: Writes in our house tone.\n---\nBe brief.\n"


def anthropic_skill(skill_id: str, version: str = "latest") -> dict:
    return {"type": "anthropic", "skill_id": skill_id, "version": version}


async def create(fake: FakeAnthropic, skills: list[dict], *, tools=CODE, betas=BETAS, stream=False, **extra):
    """The message (or, streamed, its events), the client closed in the test's own loop."""
    async with sdk_client(fake) as client:
        answer = await client.beta.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=[{"role": "user", "content": "Write the quarterly report."}],
            container={"skills": skills, **extra},
            tools=tools,
            betas=betas,
            stream=stream,
        )
        return [event async for event in answer] if stream else answer


async def custom_skill(fake: FakeAnthropic) -> str:
    async with sdk_client(fake) as client:
        skill = await client.beta.skills.create(
            display_name="Tone", files=[("tone/SKILL.md", SKILL_MD, "text/markdown")], betas=BETAS
        )
    return skill.id


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"betas": ["mcp-client-2025-11-20"]}, "skills need the anthropic-beta header skills-2025-10-02"),
        (
            {"tools": [{"type": "web_search_20260318", "name": "web_search"}]},
            "skills need the code execution tool",
        ),
        (
            {"skills": [anthropic_skill("pptx"), anthropic_skill("slides")]},
            "skill 'slides' (anthropic, version latest)",
        ),
        ({"skills": [anthropic_skill("docx", "20990101")]}, "skill 'docx' (anthropic, version 20990101)"),
        ({"skills": [{"type": "custom", "skill_id": "skill_01nothere"}]}, "skill 'skill_01nothere' (custom"),
        ({"skills": [anthropic_skill("pdf")] * 9}, "at most 8 skills per request (got 9)"),
    ],
)
async def test_skills_the_api_would_refuse_are_a_400_naming_the_problem(fake: FakeAnthropic, change, message):
    fake.enqueue(GroundedReply(["unused"]))
    arguments = {"skills": [anthropic_skill("docx")], **change}

    with pytest.raises(anthropic.BadRequestError) as refused:
        await create(fake, arguments.pop("skills"), **arguments)

    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert message in refused.value.body["error"]["message"]
    assert (await create(fake, [anthropic_skill("docx")])).content[0].text == "unused"


@pytest.mark.asyncio
async def test_the_container_lists_its_skills_with_their_versions_resolved(fake: FakeAnthropic) -> None:
    skill_id = await custom_skill(fake)
    epoch = fake.skill_version(skill_id, "latest")
    skills = [
        anthropic_skill("xlsx"),
        anthropic_skill("docx", "20251013"),
        {"type": "custom", "skill_id": skill_id},
    ]
    fake.enqueue(GroundedReply(["Done."]), GroundedReply(["Again."]))

    events = await create(fake, skills, stream=True)
    again = await create(fake, skills, id="container_kept")

    start = next(e for e in events if e.type == "message_start").message.container
    delta = next(e for e in events if e.type == "message_delta").delta.container
    assert start.id == delta.id and start.id.startswith("container_")
    assert [(s.type, s.skill_id, s.version) for s in delta.skills] == [
        ("anthropic", "xlsx", "20251013"),
        ("anthropic", "docx", "20251013"),
        ("custom", skill_id, epoch),
    ]
    assert again.container.id == "container_kept" and len(again.container.skills) == 3


@pytest.mark.asyncio
async def test_the_files_code_made_are_valid_office_files_the_files_api_serves(fake: FakeAnthropic) -> None:
    report = docx_output("report.docx", ["Quarterly report", "Sales grew <5%> & costs fell."])
    table = xlsx_output("figures.xlsx", [["Region", "Sales"], ["North", 1200], ["South", 850.5]])
    fake.enqueue(
        GroundedReply([Code("python make_report.py", "wrote 2 files", files=[report, table]), "Here."])
    )

    message = await create(fake, [anthropic_skill("docx"), anthropic_skill("xlsx")])

    result = message.content[1]
    assert isinstance(result, BetaBashCodeExecutionToolResultBlock)
    file_ids = [output.file_id for output in result.content.content]
    assert file_ids == [report.file_id, table.file_id]
    async with sdk_client(fake) as client:
        metadata = [await client.beta.files.retrieve_metadata(file_id) for file_id in file_ids]
        downloaded = [await (await client.beta.files.download(file_id)).read() for file_id in file_ids]
    assert [(m.filename, m.mime_type, m.downloadable) for m in metadata] == [
        ("report.docx", DOCX, True),
        ("figures.xlsx", XLSX, True),
    ]
    word, excel = (zipfile.ZipFile(io.BytesIO(data)) for data in downloaded)
    assert word.namelist()[0] == excel.namelist()[0] == "[Content_Types].xml"
    assert content_types(word) == {"/word/document.xml": DOCX_MAIN}
    assert content_types(excel) == {"/xl/workbook.xml": XLSX_MAIN, "/xl/worksheets/sheet1.xml": SHEET}
    assert paragraphs(word) == ["Quarterly report", "Sales grew <5%> & costs fell."]
    assert cells(excel) == [["Region", "Sales"], ["North", "1200"], ["South", "850.5"]]


DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def content_types(package: zipfile.ZipFile) -> dict[str, str]:
    """The overrides of [Content_Types].xml; it also maps .rels and .xml, and every part it names exists."""
    types = ElementTree.fromstring(package.read("[Content_Types].xml"))
    ns = "{http://schemas.openxmlformats.org/package/2006/content-types}"
    defaults = {d.get("Extension"): d.get("ContentType") for d in types.iter(f"{ns}Default")}
    assert defaults == {
        "rels": "application/vnd.openxmlformats-package.relationships+xml",
        "xml": "application/xml",
    }
    overrides = {o.get("PartName"): o.get("ContentType") for o in types.iter(f"{ns}Override")}
    assert all(name.lstrip("/") in package.namelist() for name in overrides)
    relationships = ElementTree.fromstring(package.read("_rels/.rels"))
    targets = [r.get("Target") for r in relationships]
    assert len(targets) == 1 and "/" + targets[0] in overrides
    return overrides


def paragraphs(package: zipfile.ZipFile) -> list[str]:
    document = ElementTree.fromstring(package.read("word/document.xml"))
    return ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in document.iter(f"{W}p")]


def cells(package: zipfile.ZipFile) -> list[list[str]]:
    sheet = ElementTree.fromstring(package.read("xl/worksheets/sheet1.xml"))
    return [["".join(c.itertext()) for c in row.iter(f"{S}c")] for row in sheet.iter(f"{S}row")]
