"""The workbench's pages and cases: who sees and changes what (404 for outsiders everywhere, members
read only), test cases added, edited, deleted and imported from CSV (with the reasons a CSV is
refused), and Bad responses suggested as cases without saying whose chat they came from."""

import pytest
from django.urls import reverse

from conversations.models import ContentBlock, Conversation, Message, ReplyFeedback
from tests.helpers import as_user
from workbench.models import Result, Run, TestCase
from workbench.services import case_add, run_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def wb(prompt, people, fake_api, fresh_catalog):
    """The prompt with a second version, one case, and one finished run."""
    from teams import services as team_services

    team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name=prompt.name, text="Be brief.", cache_ttl="5m"
    )
    case = case_add(prompt=prompt, user=people["editor"], case_input="Where is my order?", tags="orders")
    versions = list(prompt.versions.order_by("number"))
    run = run_create(
        prompt=prompt,
        user=people["editor"],
        version_a=versions[0].pk,
        model_a="claude-sonnet-4-6",
        version_b=versions[1].pk,
        model_b="claude-sonnet-4-6",
    )
    return {"prompt": prompt, "case": case, "run": run, "versions": versions}


def urls(wb) -> dict[str, str]:
    p, c, r = wb["prompt"].pk, wb["case"].pk, wb["run"].pk
    return {
        "home": reverse("workbench", args=[p]),
        "add": reverse("workbench_case_add", args=[p]),
        "edit": reverse("workbench_case_edit", args=[p, c]),
        "import": reverse("workbench_import", args=[p]),
        "run_start": reverse("workbench_run_start", args=[p]),
        "run": reverse("workbench_run", args=[p, r]),
        "cancel": reverse("workbench_run_cancel", args=[p, r]),
        "csv": reverse("workbench_run_csv", args=[p, r]),
        "suggestion": reverse("workbench_suggestion_take", args=[p, 1]),
    }


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_outsiders_get_404_on_every_workbench_address(client, people, wb, who):
    as_user(client, people, who)
    for name, url in urls(wb).items():
        for method in (client.get, client.post):
            response = method(url)
            expected = (302,) if who == "anonymous" else (404, 405)
            assert response.status_code in expected, (name, method, response.status_code)
            if who == "outsider" and response.status_code == 405:
                assert name not in ("home", "edit", "run", "csv"), name


def test_members_view_but_change_nothing(client, people, wb):
    as_user(client, people, "member")
    page = client.get(urls(wb)["home"]).content.decode()
    assert "Where is my order?" in page
    assert "Add test case" not in page and "Import CSV" not in page and ">Run</button>" not in page
    assert client.get(urls(wb)["run"]).status_code == 200
    assert client.get(urls(wb)["csv"]).status_code == 200
    for name in ("add", "edit", "import", "run_start", "cancel", "suggestion"):
        assert client.post(urls(wb)[name], {"input": "x"}).status_code == 403, name
    assert TestCase.objects.count() == 1 and Run.objects.count() == 1


def test_the_prompt_page_links_to_its_workbench(client, people, wb):
    as_user(client, people, "member")
    page = client.get(reverse("prompt_detail", args=[wb["prompt"].pk])).content.decode()
    assert f'href="{urls(wb)["home"]}"' in page and ">Workbench<" in page


def test_editors_add_edit_tag_and_delete_cases(client, people, wb):
    as_user(client, people, "editor")
    response = client.post(
        urls(wb)["add"],
        {"input": "  Refund? ", "expected": "Explain the policy", "tags": "billing, billing, vip"},
    )
    assert response.status_code == 302
    case = TestCase.objects.get(input="Refund?")
    assert (case.expected, case.tag_list) == ("Explain the policy", ["billing", "vip"])
    edit = reverse("workbench_case_edit", args=[wb["prompt"].pk, case.pk])
    assert client.post(edit, {"input": "Refund now?", "expected": "", "tags": "x"}).status_code == 302
    case.refresh_from_db()
    assert (case.input, case.expected, case.tags) == ("Refund now?", "", "x")
    refused = client.post(edit, {"input": "   ", "expected": "kept", "tags": ""})
    assert refused.status_code == 422 and "needs an input" in refused.content.decode()
    assert "kept" in refused.content.decode()  # what was typed stays
    assert client.post(edit, {"action": "delete"}).status_code == 302
    assert not TestCase.objects.filter(pk=case.pk).exists()
    # A run keeps its copy of a deleted case.
    client.post(urls(wb)["edit"], {"action": "delete"})
    assert Result.objects.filter(run=wb["run"], input="Where is my order?").count() == 2


def upload(client, url, name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(url, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def test_a_csv_imports_its_input_expected_and_tags_columns(client, people, wb):
    as_user(client, people, "editor")
    data = b'Expected,INPUT,tags\nSay sorry,Late parcel,delivery\n,,\nNo,"Multi\nline",\n'
    assert upload(client, urls(wb)["import"], "cases.csv", b"\xef\xbb\xbf" + data).status_code == 302
    added = list(TestCase.objects.order_by("pk"))[1:]
    assert [(c.input, c.expected, c.tags) for c in added] == [
        ("Late parcel", "Say sorry", "delivery"),
        ("Multi\nline", "No", ""),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "The file is empty."),
        (b"question,answer\nhi,there\n", "no input column (its columns: question, answer)"),
        (b"input\n\n", "no rows with an input"),
        (b"input\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_a_csv_is_refused_with_its_reason(client, people, wb, data, reason):
    as_user(client, people, "editor")
    response = upload(client, urls(wb)["import"], "cases.csv", data)
    assert response.status_code == 422
    assert reason in response.content.decode()
    assert TestCase.objects.count() == 1


def test_a_csv_over_the_cap_is_refused_whole(client, people, wb, settings):
    settings.CHAT_WORKBENCH_MAX_CASES = 3
    as_user(client, people, "editor")
    response = upload(client, urls(wb)["import"], "cases.csv", b"input\na\nb\nc\n")
    assert response.status_code == 422
    assert (
        "The CSV has 3 cases; a prompt has at most 3 and this one has room for 2."
        in response.content.decode()
    )
    assert TestCase.objects.count() == 1
    assert upload(client, urls(wb)["import"], "cases.csv", b"input\na\nb\n").status_code == 302
    assert client.post(urls(wb)["add"], {"input": "one more"}).status_code == 422


def bad_reply(owner, prompt_version, question: str, comment: str, rating="bad") -> ReplyFeedback:
    chat = Conversation.objects.create(
        owner=owner, title="Secret chat title", model="m", prompt_version=prompt_version
    )
    asked = Message.objects.create(conversation=chat, role="user")
    ContentBlock.objects.create(
        message=asked, index=0, type="text", payload={"type": "text", "text": question}
    )
    reply = Message.objects.create(conversation=chat, role="assistant", parent=asked)
    return ReplyFeedback.objects.create(
        message=reply, user=owner, rating=rating, comment=comment, prompt_version=prompt_version
    )


def test_bad_responses_on_the_prompt_are_suggested_without_whose_chat(client, people, wb, alice):
    from teams import services as team_services

    other = team_services.prompt_create(
        user=people["editor"], name="Other", text="x", team=wb["prompt"].team, cache_ttl="5m"
    )
    feedback = bad_reply(alice, wb["versions"][1], "Why was I charged twice?", "Too curt")
    bad_reply(alice, wb["versions"][0], "A good one", "", rating="good")
    bad_reply(alice, other.latest, "Another prompt's question", "no")
    as_user(client, people, "editor")
    page = client.get(urls(wb)["home"]).content.decode()
    assert "Why was I charged twice?" in page and "Too curt" in page
    assert "A good one" not in page and "Another prompt&#x27;s question" not in page
    assert "alice" not in page and "Secret chat title" not in page and "/c/" not in page
    as_user(client, people, "member")
    assert "Why was I charged twice?" not in client.get(urls(wb)["home"]).content.decode()

    as_user(client, people, "editor")
    take = reverse("workbench_suggestion_take", args=[wb["prompt"].pk, feedback.pk])
    assert client.post(take, {"input": "Why was I charged twice?"}).status_code == 302
    case = TestCase.objects.get(from_feedback=feedback)
    assert (case.input, case.expected) == ("Why was I charged twice?", "Too curt")
    assert "Suggested from Bad responses" not in client.get(urls(wb)["home"]).content.decode()
    assert client.post(take, {"input": "again"}).status_code == 422


def test_a_run_is_refused_with_the_reason(client, people, wb):
    as_user(client, people, "editor")
    v1, v2 = wb["versions"]
    same = {
        "version_a": v1.pk,
        "model_a": "claude-sonnet-4-6",
        "version_b": v1.pk,
        "model_b": "claude-sonnet-4-6",
    }
    response = client.post(urls(wb)["run_start"], same)
    assert response.status_code == 422 and "the same" in response.content.decode()
    unknown = {**same, "version_b": v2.pk, "model_b": "gpt-9"}
    assert "not available" in client.post(urls(wb)["run_start"], unknown).content.decode()
    no_grader = {**same, "version_b": v2.pk, "rubric": "Polite", "grader_model": "claude-3-haiku"}
    assert client.post(urls(wb)["run_start"], no_grader).status_code == 422
    assert Run.objects.count() == 1


def test_the_rubric_is_not_offered_where_no_model_has_structured_outputs(client, people, wb, settings):
    as_user(client, people, "editor")
    page = client.get(urls(wb)["home"]).content.decode()
    assert 'name="rubric"' in page and "1 case × 2 sides = 2 requests" in page
    settings.CHAT_USE_LOCAL_MODEL = True
    page = client.get(urls(wb)["home"]).content.decode()
    assert 'name="rubric"' not in page and "not graded by a rubric" in page


def test_a_batch_runs_page_shows_its_graders_batch(client, people, wb):
    Run.objects.filter(pk=wb["run"].pk).update(
        mode="batch",
        rubric="Polite",
        grader_model="claude-haiku-4-5",
        batch_id="msgbatch_cases",
        batch_status="ended",
        grader_batch_id="msgbatch_grades",
        grader_batch_status="in_progress",
        grader_batch_counts={"processing": 2, "succeeded": 0, "errored": 0, "expired": 0, "canceled": 0},
    )
    as_user(client, people, "member")
    page = client.get(urls(wb)["run"]).content.decode()
    assert "Grader's Message Batch <code>msgbatch_grades</code>: in_progress · 2 processing" in page
    assert "Grading cost (batch)" in page
