"""Retrieval (conversations/projects/retrieval.py, passages.py): a project whose knowledge does not
fit the model's context sends the passages that match the question as `search_result` blocks
instead of the files; the fake API takes them and cites them (`search_result_location`, parsed by
the SDK's own types); the cited answer is stored and shown with its file and quote."""

import io

import anthropic
import pytest
from anthropic.types import CitationsSearchResultLocation, TextBlock
from asgiref.sync import sync_to_async
from django.urls import reverse
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from conversations.claude import citations
from conversations.models import ProjectPassage
from conversations.projects import passages, retrieval
from conversations.projects import services as projects
from conversations.reply.anthropic_request import count_breakpoints
from conversations.sending import SendCommand, conversation_post
from fakes import Cited, GroundedReply, Reply
from fakes.search_results import search_citation
from tests.helpers import run_to_end, send

HOUR = {"type": "ephemeral", "ttl": "1h"}
EPHEMERAL = {"type": "ephemeral"}
FILLER = "Lorem ipsum dolor sit amet. " * 35  # about 980 characters: a passage of its own
REFUNDS = "Refunds are paid within 30 days of a return."
SHIPPING = "Parcels leave the warehouse every Tuesday."
POLICIES = f"{REFUNDS}\n\n{FILLER}\n\n{SHIPPING}\n\n{FILLER}\n"
TOO_BIG = 150_000  # count_tokens of a file: over half of a 200,000-token context window


def text_pdf(pages: list[str]) -> bytes:
    """A PDF with one line of text on each page (Helvetica), which pypdf reads back."""
    writer = PdfWriter()
    helvetica = {"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}
    font = writer._add_object(DictionaryObject({NameObject(k): NameObject(v) for k, v in helvetica.items()}))
    for text in pages:
        page = writer.add_blank_page(612, 792)
        stream = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
        fonts = DictionaryObject({NameObject("/F1"): font})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def big_project(team, people, media):
    """A project with a text file and a PDF whose count_tokens total does not fit."""
    made = projects.project_create(
        user=people["editor"], name="Handbook", instructions="Answer from the handbook.", team=team
    )
    policies, _ = projects.project_file_add(
        user=people["editor"], project=made, name="policies.md", data=POLICIES.encode()
    )
    manual, _ = projects.project_file_add(
        user=people["editor"],
        project=made,
        name="manual.pdf",
        data=text_pdf(["Cover of the manual.", "The warranty covers two years of use."]),
    )
    projects.project_file_token_count_set(file_id=policies.pk, token_count=TOO_BIG)
    projects.project_file_token_count_set(file_id=manual.pk, token_count=900)
    return made


def start_in(project, user, text: str):
    command = SendCommand(text, model="claude-sonnet-4-6", project_id=project.pk)
    sent = conversation_post(user=user, command=command)
    return sent.conversation, sent.reply


def files_of(project):
    return {f.name: f for f in project.files.all()}


# --- passages ---------------------------------------------------------------------------------


def test_text_is_split_on_paragraphs_into_passages_of_at_most_1000_characters():
    assert passages.split(POLICIES) == [REFUNDS, FILLER.strip(), SHIPPING, FILLER.strip()]
    long = "\n".join(f"row {i},{'x' * 40}" for i in range(100))  # a CSV: no blank lines
    pieces = passages.split(long)
    assert all(len(p) <= 1000 for p in pieces) and len(pieces) == 5
    assert "\n".join(pieces) == long  # cut between rows, none lost
    assert [len(p) for p in passages.split("y" * 2500)] == [1000, 1000, 500]  # no break at all


def test_a_pdf_is_split_page_by_page_and_an_image_has_no_passages():
    found = passages.passages_of("application/pdf", text_pdf(["One.", "Two."]))
    assert found == [passages.Passage("One.", 1), passages.Passage("Two.", 2)]
    assert passages.passages_of("image/png", b"\x89PNG") == []
    assert passages.passages_of("application/pdf", b"%PDF-1.4 broken") == []


def test_passages_are_stored_when_a_file_is_added_and_go_with_it(big_project):
    manual = files_of(big_project)["manual.pdf"]
    stored = list(ProjectPassage.objects.filter(file=manual).values_list("page", "text"))
    assert stored == [(1, "Cover of the manual."), (2, "The warranty covers two years of use.")]
    assert [p.text for p in retrieval.matching_passages(big_project.pk, "warranty?")] == [stored[1][1]]
    projects.project_file_delete(project=big_project, file_id=manual.pk)
    assert retrieval.matching_passages(big_project.pk, "warranty?") == []  # the index follows


def test_search_stays_inside_the_project_and_ranks_the_best_match_first(big_project, team, people):
    other = projects.project_create(user=people["owner"], name="Other", instructions="x", team=None)
    projects.project_file_add(user=people["owner"], project=other, name="o.md", data=b"Refunds never.")
    found = retrieval.matching_passages(big_project.pk, "When are refunds paid, and what leaves on Tuesday?")
    assert [p.text for p in found] == [REFUNDS, SHIPPING] or [p.text for p in found] == [SHIPPING, REFUNDS]
    assert retrieval.matching_passages(big_project.pk, "refunds paid within 30 days")[0].text == REFUNDS
    # Words, never syntax: quotes, operators and column names are text to both databases.
    for hostile in ['"refunds', "refunds OR", "body:refunds", "NEAR(refunds paid)", "refunds*", "-paid"]:
        assert [p.text for p in retrieval.matching_passages(big_project.pk, hostile)] == [REFUNDS]
    assert retrieval.matching_passages(big_project.pk, "what is the") == []  # only common words


def test_the_knowledge_fits_within_the_documented_share_of_the_context_window(settings):
    assert settings.CHAT_PROJECT_KNOWLEDGE_SHARE == 0.5
    assert retrieval.fits([60_000, 40_000, None], 200_000)
    assert not retrieval.fits([60_000, 40_001], 200_000)
    settings.CHAT_PROJECT_KNOWLEDGE_SHARE = 0.25
    assert not retrieval.fits([60_000], 200_000)


def test_a_citation_knows_its_project_file_and_page(big_project):
    manual = files_of(big_project)["manual.pdf"]
    block = retrieval.search_result(ProjectPassage.objects.get(file=manual, page=2))
    assert block["source"] == f"/projects/{big_project.pk}/files/{manual.pk}/#page=2"
    assert block["title"] == "manual.pdf, page 2"
    citation = {"type": "search_result_location", "source": block["source"], "title": block["title"]}
    assert citations.Sources().source(citation).href == block["source"]  # the file's view, at its page
    forged = {**citation, "source": "javascript:alert(1)//projects/1/files/2/"}
    assert citations.Sources().source(forged).href is None


# --- the request ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_knowledge_too_big_sends_the_matching_passages_instead_of_the_files(
    fake_api, big_project, people
):
    fake_api.enqueue(Reply("Within 30 days."))
    _, reply = await sync_to_async(start_in)(big_project, people["member"], "When are refunds paid?")
    await run_to_end(reply)

    policies = (await sync_to_async(files_of)(big_project))["policies.md"]
    body = fake_api.message_requests[-1].body
    assert body["system"] == [{"type": "text", "text": "Answer from the handbook.", "cache_control": HOUR}]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "When are refunds paid?", "cache_control": EPHEMERAL},
                {
                    "type": "search_result",
                    "source": f"/projects/{big_project.pk}/files/{policies.pk}/",
                    "title": "policies.md",
                    "content": [{"type": "text", "text": REFUNDS}],
                    "citations": {"enabled": True},
                },
            ],
        }
    ]
    assert count_breakpoints(body) == 2
    assert "/v1/files" not in [r.path for r in fake_api.requests]  # nothing is uploaded for it


@pytest.mark.django_db(transaction=True)
async def test_a_pdf_passage_is_sent_with_its_page(fake_api, big_project, people):
    fake_api.enqueue(Reply("Two years."))
    _, reply = await sync_to_async(start_in)(big_project, people["member"], "How long is the warranty?")
    await run_to_end(reply)
    manual = (await sync_to_async(files_of)(big_project))["manual.pdf"]
    assert fake_api.message_requests[-1].body["messages"][0]["content"][1:] == [
        {
            "type": "search_result",
            "source": f"/projects/{big_project.pk}/files/{manual.pk}/#page=2",
            "title": "manual.pdf, page 2",
            "content": [{"type": "text", "text": "The warranty covers two years of use."}],
            "citations": {"enabled": True},
        }
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_question_nothing_matches_says_so_instead_of_passages(fake_api, big_project, people):
    fake_api.enqueue(Reply("I could not find that."))
    _, reply = await sync_to_async(start_in)(big_project, people["member"], "What colour is the sky?")
    await run_to_end(reply)
    assert fake_api.message_requests[-1].body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What colour is the sky?", "cache_control": EPHEMERAL},
                {"type": "text", "text": retrieval.NO_MATCH},
            ],
        }
    ]


@pytest.mark.django_db(transaction=True)
async def test_knowledge_that_fits_still_goes_whole(fake_api, big_project, people):
    policies = (await sync_to_async(files_of)(big_project))["policies.md"]
    await sync_to_async(projects.project_file_token_count_set)(file_id=policies.pk, token_count=5_000)
    fake_api.enqueue(Reply("Within 30 days."))
    _, reply = await sync_to_async(start_in)(big_project, people["member"], "When are refunds paid?")
    await run_to_end(reply)
    content = fake_api.message_requests[-1].body["messages"][0]["content"]
    assert [b["type"] for b in content] == ["document", "document", "text"]
    assert content[0]["source"] == {"type": "text", "media_type": "text/plain", "data": POLICIES}
    assert content[1]["cache_control"] == HOUR
    assert content[2] == {"type": "text", "text": "When are refunds paid?", "cache_control": EPHEMERAL}


# --- the cited answer -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_cited_answer_is_stored_shown_and_not_replayed_with_its_citations(
    fake_api, big_project, people, client
):
    fake_api.enqueue(GroundedReply([Cited("Within 30 days.", [search_citation(0)])]))
    conversation, reply = await sync_to_async(start_in)(
        big_project, people["member"], "When are refunds paid?"
    )
    stored = await run_to_end(reply)
    policies = (await sync_to_async(files_of)(big_project))["policies.md"]

    blocks = await sync_to_async(lambda: [b.payload for b in stored.blocks.order_by("index")])()
    assert blocks == [
        {
            "type": "text",
            "text": "Within 30 days.",
            "citations": [
                {
                    "type": "search_result_location",
                    "search_result_index": 0,
                    "start_block_index": 0,
                    "end_block_index": 1,
                    "source": f"/projects/{big_project.pk}/files/{policies.pk}/",
                    "title": "policies.md",
                    "cited_text": REFUNDS,
                }
            ],
        }
    ]
    await sync_to_async(client.force_login)(people["member"])
    page = (await sync_to_async(client.get)(reverse("conversation", args=[conversation.pk]))).content.decode()
    assert "[1]" in page and REFUNDS in page and "policies.md" in page
    assert f'href="/projects/{big_project.pk}/files/{policies.pk}/"' in page

    # The next turn carries its own question's passages; the earlier answer goes without citations.
    fake_api.enqueue(Reply("Every Tuesday."))
    await send(conversation, "And when do parcels leave?")
    messages = fake_api.message_requests[-1].body["messages"]
    assert messages[:2] == [
        {"role": "user", "content": [{"type": "text", "text": "When are refunds paid?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Within 30 days."}]},
    ]
    assert [b["type"] for b in messages[2]["content"]] == ["text", "search_result"]
    assert messages[2]["content"][1]["content"] == [{"type": "text", "text": SHIPPING}]


# --- the fake API -----------------------------------------------------------------------------

RESULTS = [
    {
        "type": "search_result",
        "source": "/projects/1/files/2/#page=3",
        "title": "manual.pdf, page 3",
        "content": [{"type": "text", "text": "First part. "}, {"type": "text", "text": "Second part."}],
        "citations": {"enabled": True},
    },
    {
        "type": "search_result",
        "source": "/projects/1/files/4/",
        "title": "faq.md",
        "content": [{"type": "text", "text": "Another answer."}],
        "citations": {"enabled": True},
    },
]


@pytest.mark.parametrize("streamed", [True, False])
async def test_the_fake_cites_search_results_as_the_sdk_types_them(fake, streamed):
    fake.enqueue(GroundedReply([Cited("Both parts.", [search_citation(0, end=2), search_citation(1)])]))
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="test", max_retries=0)
    request = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Parts?"}, *RESULTS]}],
    }
    if streamed:
        async with client.messages.stream(**request) as stream:
            message = await stream.get_final_message()
    else:
        message = await client.messages.create(**request)
    (block,) = message.content
    assert isinstance(block, TextBlock) and block.text == "Both parts."
    first, second = block.citations
    assert isinstance(first, CitationsSearchResultLocation)
    assert first.model_dump() == {
        "type": "search_result_location",
        "search_result_index": 0,
        "start_block_index": 0,
        "end_block_index": 2,
        "source": "/projects/1/files/2/#page=3",
        "title": "manual.pdf, page 3",
        "cited_text": "First part. Second part.",
    }
    assert (second.search_result_index, second.cited_text, second.title) == (1, "Another answer.", "faq.md")


@pytest.mark.parametrize(
    "change",
    [
        {"source": None},
        {"content": []},
        {"content": [{"type": "image"}]},
        {"content": [{"type": "text", "text": " "}]},
    ],
)
async def test_the_fake_refuses_a_malformed_search_result(fake, change):
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="test", max_retries=0)
    bad = {**RESULTS[0], **change}
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": [bad]}]
        )


async def test_a_script_citing_a_result_the_request_lacks_is_an_error(fake):
    fake.enqueue(GroundedReply([Cited("No.", [search_citation(5)])]))
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="test", max_retries=0)
    with pytest.raises(anthropic.InternalServerError, match="search result 5; the request has 2"):
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": RESULTS}]
        )


# --- the project page, and files from before passages ----------------------------------------


@pytest.mark.django_db
def test_the_project_page_says_when_its_knowledge_is_searched(big_project, people, client):
    note = "Too large to send whole: each question gets the matching passages"
    assert retrieval.searched([TOO_BIG, 900]) and not retrieval.searched([900, None])
    assert retrieval.searched([TOO_BIG], "claude-sonnet-4-6") == (not retrieval.fits([TOO_BIG], 200_000))
    client.force_login(people["member"])
    url = reverse("project_detail", args=[big_project.pk])
    assert note in client.get(url).content.decode()

    policies = big_project.files.get(name="policies.md")
    projects.project_file_token_count_set(file_id=policies.pk, token_count=900)
    assert note not in client.get(url).content.decode()  # it fits again: sent whole


@pytest.mark.django_db
def test_a_file_added_before_passages_gets_them_when_retrieval_first_needs_them(big_project):
    before = list(ProjectPassage.objects.order_by("pk").values_list("file_id", "position", "page", "text"))
    ProjectPassage.objects.all().delete()  # as a file added before migration 0027 is
    assert retrieval.question_terms("warranty") == ["warranty"]

    found = retrieval.matching_passages(big_project.pk, "How long is the warranty?")
    assert [(p.file.name, p.page, p.text) for p in found] == [
        ("manual.pdf", 2, "The warranty covers two years of use.")
    ]
    after = list(ProjectPassage.objects.order_by("pk").values_list("file_id", "position", "page", "text"))
    assert after == before  # every file's, as adding it stores them
    assert retrieval.missing_passages_build(big_project.pk) == 0  # built once
    assert retrieval.matching_passages(big_project.pk, "refunds")[0].text.startswith(REFUNDS)
