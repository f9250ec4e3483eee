"""The blind review of a finished run: editors pick the better of each case's two unlabelled outputs
(in an order fixed per reviewer, never saying which side is which), one vote per case and editor,
changeable; members see the tally on the run's page but never vote; outsiders get 404."""

import re

import pytest
from django.urls import reverse

from tests.helpers import as_user
from workbench import selectors
from workbench.models import BlindVote, Result, Run
from workbench.services import case_add, run_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(prompt, people, fake_api, fresh_catalog):
    """A complete run of v1 on Sonnet against v2 on Haiku over three cases, every output in."""
    from teams import services as team_services

    team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name=prompt.name, text="Be brief.", cache_ttl="5m"
    )
    for question in ("Where is my order?", "Can I get a refund?", "Do you ship abroad?"):
        case_add(prompt=prompt, user=people["editor"], case_input=question)
    versions = list(prompt.versions.order_by("number"))
    run = run_create(
        prompt=prompt,
        user=people["editor"],
        version_a=versions[0].pk,
        model_a="claude-sonnet-4-6",
        version_b=versions[1].pk,
        model_b="claude-haiku-4-5",
    )
    for result in run.results.all():
        result.status = Result.Status.SUCCEEDED
        result.output = f"Answer {result.position} from side {result.side.upper()}"
        result.save()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETE)
    run.refresh_from_db()
    return run


def blind_url(run) -> str:
    return reverse("workbench_run_blind", args=[run.prompt_id, run.pk])


def run_url(run) -> str:
    return reverse("workbench_run", args=[run.prompt_id, run.pk])


def test_the_blind_page_never_says_which_side_is_which(client, people, finished):
    as_user(client, people, "editor")
    page = client.get(blind_url(finished)).content.decode()
    assert "Left is better" in page and "Right is better" in page and ">Tie<" in page
    for answer in ("Answer 1 from side A", "Answer 1 from side B", "Answer 3 from side B"):
        assert answer in page
    for label in ("claude-sonnet-4-6", "claude-haiku-4-5", "Sonnet", "v1 ·", "v2 ·", "data-side"):
        assert label not in page, label
    # A vote cast does not reveal it either.
    client.post(blind_url(finished), {"position": 1, "pick": "left"})
    page = client.get(blind_url(finished)).content.decode()
    assert "Your vote: left is better" in page
    for label in ("claude-sonnet-4-6", "claude-haiku-4-5", "v1 ·", "v2 ·", "data-side"):
        assert label not in page, label


def shown_order(page: str) -> list[str]:
    return re.findall(r"Answer \d from side [AB]", page)


def test_the_order_is_fixed_per_case_and_reviewer(client, people, finished):
    as_user(client, people, "editor")
    first = shown_order(client.get(blind_url(finished)).content.decode())
    assert len(first) == 6
    assert shown_order(client.get(blind_url(finished)).content.decode()) == first
    expected = []
    for position in (1, 2, 3):
        left = selectors.blind_left_side(finished, position, people["editor"])
        right = "b" if left == "a" else "a"
        expected += [
            f"Answer {position} from side {left.upper()}",
            f"Answer {position} from side {right.upper()}",
        ]
    assert first == expected
    # Random to look at: over many cases and reviewers both sides come out on the left.
    editor, owner = people["editor"], people["owner"]
    assert {selectors.blind_left_side(finished, n, editor) for n in range(1, 40)} == {"a", "b"}
    assert any(
        selectors.blind_left_side(finished, n, editor) != selectors.blind_left_side(finished, n, owner)
        for n in range(1, 40)
    )


def picked(run, user, position: int, side: str) -> str:
    """What the reviewer must press to vote for a side."""
    return "left" if selectors.blind_left_side(run, position, user) == side else "right"


def test_votes_are_stored_as_sides_one_per_case_and_editor_and_can_change(client, people, finished):
    editor = people["editor"]
    as_user(client, people, "editor")
    response = client.post(blind_url(finished), {"position": 1, "pick": picked(finished, editor, 1, "b")})
    assert response.status_code == 302
    assert BlindVote.objects.get(run=finished, position=1, user=editor).choice == "b"
    client.post(blind_url(finished), {"position": 1, "pick": picked(finished, editor, 1, "a")})
    client.post(blind_url(finished), {"position": 2, "pick": "tie"})
    assert dict(BlindVote.objects.filter(user=editor).values_list("position", "choice")) == {1: "a", 2: "tie"}
    assert client.post(blind_url(finished), {"position": 3, "pick": "up"}).status_code == 422
    assert client.post(blind_url(finished), {"position": 9, "pick": "tie"}).status_code == 422
    assert BlindVote.objects.count() == 2


def test_the_tally_per_version_is_shown_on_the_results_page(client, people, finished):
    for user, position, side in (
        ("editor", 1, "a"),
        ("editor", 2, "b"),
        ("owner", 1, "a"),
        ("owner", 3, "tie"),
    ):
        as_user(client, people, user)
        pick = "tie" if side == "tie" else picked(finished, people[user], position, side)
        client.post(blind_url(finished), {"position": position, "pick": pick})
    assert selectors.blind_tally(finished) == {"a": 2, "b": 1, "ties": 1, "votes": 4, "reviewers": 2}
    as_user(client, people, "member")
    page = client.get(run_url(finished)).content.decode()
    assert "A: v1 · claude-sonnet-4-6: better on 2" in page
    assert "B: v2 · claude-haiku-4-5: better on 1" in page
    assert "ties: 1" in page and "4 votes by 2 editors" in page
    assert blind_url(finished) not in page  # members are not offered the review
    as_user(client, people, "editor")
    assert blind_url(finished) in client.get(run_url(finished)).content.decode()


def test_members_never_vote_and_outsiders_get_404(client, people, finished):
    as_user(client, people, "member")
    assert client.get(blind_url(finished)).status_code == 403
    assert client.post(blind_url(finished), {"position": 1, "pick": "tie"}).status_code == 403
    as_user(client, people, "outsider")
    assert client.get(blind_url(finished)).status_code == 404
    assert client.post(blind_url(finished), {"position": 1, "pick": "tie"}).status_code == 404
    assert not BlindVote.objects.exists()


def test_an_open_run_has_no_blind_review_yet(client, people, finished):
    Run.objects.filter(pk=finished.pk).update(status=Run.Status.RUNNING)
    as_user(client, people, "editor")
    page = client.get(blind_url(finished)).content.decode()
    assert "opens once the run has finished" in page and "Answer 1" not in page
    assert client.post(blind_url(finished), {"position": 1, "pick": "tie"}).status_code == 422
    assert not BlindVote.objects.exists()
