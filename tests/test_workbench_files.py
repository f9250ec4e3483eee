"""A test case's files: added with the case (checked as a chat's uploads are, all or nothing),
listed on the case and served only to those who may view the workbench, added and removed on its
edit page, gone from storage with it; sent before the input's text in live and batch requests
alike (base64, a text file as text), a file removed mid-run shown on its result and never sent
without; copied from a chat message by "Add to test set"; and a batch too large refused."""

import base64
import hashlib

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations import storage
from conversations.claude.pricing import seed_default_prices
from conversations.models import Attachment, ContentBlock, Conversation, Message, ModelPrice
from conversations.services import attachment_store
from tests.helpers import as_user, image_bytes, pdf_bytes
from workbench import services, worker
from workbench.models import CaseFile, Result, Run, TestCase

pytestmark = pytest.mark.django_db

SONNET = "claude-sonnet-4-6"
NOTES = b"Order 1234 shipped on Monday.\n"


def uploads() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile("parcel.png", image_bytes(), content_type="image/png"),
        SimpleUploadedFile("notes.txt", NOTES, content_type="text/plain"),
        SimpleUploadedFile("label.pdf", pdf_bytes(pages=2), content_type="application/pdf"),
    ]


@pytest.fixture
def wb(prompt, people, media):
    from teams import services as team_services

    team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name=prompt.name, text="Be brief.", cache_ttl="5m"
    )
    return {"prompt": prompt, "add": reverse("workbench_case_add", args=[prompt.pk])}


def file_url(file: CaseFile) -> str:
    return reverse("workbench_case_file", args=[file.case.prompt_id, file.case_id, file.pk])


def test_a_case_takes_files_shows_them_and_serves_them_to_the_workbench_only(client, people, wb):
    as_user(client, people, "editor")
    response = client.post(wb["add"], {"input": "Where is it?", "files": uploads()})
    assert response.status_code == 302
    case = TestCase.objects.get()
    files = list(case.files.order_by("pk"))
    assert [(f.name, f.media_type, f.pages) for f in files] == [
        ("parcel.png", "image/png", None),
        ("notes.txt", "text/plain", None),
        ("label.pdf", "application/pdf", 2),
    ]
    assert storage.read(files[1].storage_key) == NOTES
    assert files[0].storage_key.startswith(f"workbench/{wb['prompt'].pk}/{case.pk}/")
    page = client.get(reverse("workbench", args=[wb["prompt"].pk])).content.decode()
    for file in files:
        assert f'href="{file_url(file)}">{file.name}</a>' in page
    as_user(client, people, "member")
    served = client.get(file_url(files[1]))
    assert served.status_code == 200 and b"".join(served.streaming_content) == NOTES
    assert served["X-Content-Type-Options"] == "nosniff"
    edit_page = client.get(reverse("workbench_case_edit", args=[wb["prompt"].pk, case.pk])).content.decode()
    assert f'href="{file_url(files[2])}">label.pdf</a>' in edit_page and 'name="remove"' not in edit_page
    as_user(client, people, "outsider")
    assert client.get(file_url(files[0])).status_code == 404
    client.logout()
    assert client.get(file_url(files[0])).status_code == 302  # to sign in


def test_a_file_is_reached_only_through_its_own_prompt_and_case(client, people, wb, team):
    from teams import services as team_services

    as_user(client, people, "editor")
    client.post(wb["add"], {"input": "One", "files": uploads()[:1]})
    client.post(wb["add"], {"input": "Two"})
    first, second = TestCase.objects.order_by("pk")
    file = first.files.get()
    other = team_services.prompt_create(
        user=people["editor"], name="Other", text="x", team=team, cache_ttl="5m"
    )
    for prompt_id, case_id in ((other.pk, first.pk), (wb["prompt"].pk, second.pk)):
        url = reverse("workbench_case_file", args=[prompt_id, case_id, file.pk])
        assert client.get(url).status_code == 404
    assert client.get(file_url(file)).status_code == 200


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (
            SimpleUploadedFile("evil.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            "evil.svg: not a JPEG, PNG, GIF, WebP, PDF or plain text file.",
        ),
        (SimpleUploadedFile("locked.pdf", pdf_bytes(password="x")), "locked.pdf: the PDF is encrypted"),
    ],
)
def test_a_refused_file_refuses_the_case_with_the_reason(client, people, wb, media, upload, reason):
    as_user(client, people, "editor")
    response = client.post(wb["add"], {"input": "Kept as typed", "files": [uploads()[0], upload]})
    assert response.status_code == 422
    page = response.content.decode()
    assert reason in page and "Kept as typed" in page
    assert not TestCase.objects.exists() and not CaseFile.objects.exists()
    assert not (media / "workbench").exists()  # nothing stored before every file passed


def test_a_case_holds_at_most_so_many_files(client, people, wb, monkeypatch):
    monkeypatch.setattr(services, "MAX_CASE_FILES", 2)
    as_user(client, people, "editor")
    response = client.post(wb["add"], {"input": "Three files", "files": uploads()})
    assert response.status_code == 422 and "A test case has at most 2 files." in response.content.decode()
    assert not TestCase.objects.exists()
    same_twice = [SimpleUploadedFile("a.txt", NOTES), SimpleUploadedFile("b.txt", NOTES)]
    assert client.post(wb["add"], {"input": "Once", "files": same_twice}).status_code == 302
    assert [f.name for f in CaseFile.objects.all()] == ["a.txt"]  # the same content is kept once


def test_editing_adds_and_removes_files_and_deleting_the_case_removes_them_from_storage(
    client, people, wb, django_capture_on_commit_callbacks
):
    as_user(client, people, "editor")
    client.post(wb["add"], {"input": "Where?", "files": uploads()[:2]})
    case = TestCase.objects.get()
    png, notes = case.files.order_by("pk")
    edit = reverse("workbench_case_edit", args=[wb["prompt"].pk, case.pk])
    page = client.get(edit).content.decode()
    assert f'name="remove" value="{png.pk}"' in page and 'enctype="multipart/form-data"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            edit,
            {"input": "Where now?", "expected": "", "tags": "", "remove": [png.pk], "files": uploads()[2:]},
        )
    assert response.status_code == 302
    assert [f.name for f in case.files.order_by("pk")] == ["notes.txt", "label.pdf"]
    assert not storage.exists(png.storage_key) and storage.exists(notes.storage_key)
    # Removing a file and adding it again in one edit keeps it (and its stored bytes).
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            edit,
            {"input": "Where now?", "remove": [notes.pk], "files": [SimpleUploadedFile("notes.txt", NOTES)]},
        )
    assert storage.read(case.files.get(name="notes.txt").storage_key) == NOTES
    keys = list(case.files.values_list("storage_key", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(edit, {"action": "delete"}).status_code == 302
    assert not CaseFile.objects.exists() and not any(storage.exists(key) for key in keys)


def test_add_to_test_set_copies_the_messages_files(client, people, prompt, media):
    owner = people["editor"]
    attachment = attachment_store(user=owner, name="receipt.png", data=image_bytes(80, 40))
    chat = Conversation.objects.create(owner=owner, title="Chat", model="m", prompt_version=prompt.latest)
    asked = Message.objects.create(conversation=chat, role="user")
    payloads = [
        {"type": "image", "attachment_id": attachment.pk, "name": "receipt.png", "pages": None},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/terms.pdf"}},
        {"type": "text", "text": "Is this receipt right?"},
    ]
    for index, payload in enumerate(payloads):
        ContentBlock.objects.create(message=asked, index=index, type=payload["type"], payload=payload)
    as_user(client, people, "editor")
    url = reverse("workbench_message_add", args=[asked.pk])
    form = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Its 1 file is copied with it." in form and "Files attached by their link are not" in form
    assert client.post(url, {"prompt": prompt.pk}, HTTP_HX_REQUEST="true").status_code == 200
    case = TestCase.objects.get()
    copy = case.files.get()
    assert (case.input, copy.name, copy.media_type, copy.width) == (
        "Is this receipt right?",
        "receipt.png",
        "image/png",
        80,
    )
    assert copy.sha256 == attachment.sha256 and copy.storage_key != attachment.storage_key
    Attachment.objects.filter(pk=attachment.pk).delete()  # the chat's copy may go: the case keeps its own
    assert hashlib.sha256(storage.read(copy.storage_key)).hexdigest() == attachment.sha256


def test_a_batch_too_large_for_one_message_batch_is_refused(people, wb, monkeypatch, fake_api, fresh_catalog):
    monkeypatch.setattr(services, "MAX_BATCH_FILE_MB", 0.001)
    prompt = wb["prompt"]
    services.case_add(
        prompt=prompt,
        user=people["editor"],
        case_input="Read it",
        new_files=services.files_checked([("label.pdf", pdf_bytes())]),
    )
    v1, v2 = prompt.versions.order_by("number")
    options = {"prompt": prompt, "user": people["editor"], "version_a": v1.pk, "model_a": SONNET}
    with pytest.raises(services.WorkbenchError, match="a batch carries at most .* Run it live"):
        services.run_create(**options, version_b=v2.pk, model_b=SONNET, batch=True)
    assert services.run_create(**options, version_b=v2.pk, model_b=SONNET)


# --- the requests ---------------------------------------------------------------------------------


@pytest.fixture
def run_setup(prompt, people, media, fake_api, fresh_catalog):
    seed_default_prices(ModelPrice)  # a transactional test starts with empty tables
    from teams import services as team_services

    team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name=prompt.name, text="Be brief.", cache_ttl="5m"
    )
    case = services.case_add(
        prompt=prompt,
        user=people["editor"],
        case_input="Where is my parcel?",
        new_files=services.files_checked([("parcel.png", image_bytes()), ("notes.txt", NOTES)]),
    )
    v1, v2 = prompt.versions.order_by("number")

    def make_run(**options) -> Run:
        return services.run_create(
            prompt=prompt,
            user=people["editor"],
            version_a=v1.pk,
            model_a=SONNET,
            version_b=v2.pk,
            model_b=SONNET,
            **options,
        )

    return {"case": case, "fake": fake_api, "make_run": make_run}


def user_content(case: TestCase) -> list[dict]:
    """The case's user turn as the chat would send it: its files first, then the text."""
    png, notes = case.files.order_by("pk")
    return [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(storage.read(png.storage_key)).decode(),
            },
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": NOTES.decode()},
            "title": "notes.txt",
            "citations": {"enabled": True},
        },
        {"type": "text", "text": "Where is my parcel?"},
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_cases_files_go_before_its_text_in_live_and_batch_requests(run_setup):
    fake, case = run_setup["fake"], run_setup["case"]
    expected = await sync_to_async(user_content)(case)
    live = await sync_to_async(run_setup["make_run"])()
    await worker.work(live.pk)
    bodies = [r.body for r in fake.message_requests]
    assert len(bodies) == 2 and all(b["messages"] == [{"role": "user", "content": expected}] for b in bodies)
    assert await sync_to_async(Result.objects.filter(run=live, status="succeeded").count)() == 2
    fake.reset()
    batch = await sync_to_async(run_setup["make_run"])(batch=True)
    await worker.work(batch.pk)
    (create,) = [r.body for r in fake.requests if r.path == "/v1/messages/batches"]
    assert [r["params"]["messages"] for r in create["requests"]] == [
        [{"role": "user", "content": expected}]
    ] * 2
    results = await sync_to_async(list)(Result.objects.filter(run=batch))
    names = await sync_to_async(lambda: [{"id": f.pk, "name": f.name} for f in case.files.order_by("pk")])()
    assert [r.files for r in results] == [names] * 2
    assert {r.status for r in results} == {"succeeded"}


@pytest.mark.django_db(transaction=True)
async def test_a_file_removed_after_the_run_began_is_shown_and_its_case_not_sent(run_setup):
    fake, case = run_setup["fake"], run_setup["case"]
    live = await sync_to_async(run_setup["make_run"])()
    batch = await sync_to_async(run_setup["make_run"])(batch=True)
    await sync_to_async(CaseFile.objects.filter(case=case, name="parcel.png").delete)()
    await worker.work(live.pk)
    await worker.work(batch.pk)
    assert fake.message_requests == [] and not [r for r in fake.requests if "batches" in r.path]
    for run in (live, batch):
        results = await sync_to_async(list)(Result.objects.filter(run=run))
        assert {(r.status, r.error) for r in results} == {
            ("errored", "Not sent: the case no longer has parcel.png (removed after the run began).")
        }
        assert (await Run.objects.aget(pk=run.pk)).status == Run.Status.COMPLETE
