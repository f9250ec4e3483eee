# The world fixture is imported from tests.hostile_input: test arguments shadow it by design.
# ruff: noqa: F811
"""Hostile input to every URL the app serves (tests/hostile_input.py says what is sent, as whom,
and what must not come back): shard 0 of the walk here, the others in test_chatsite_hostile_input_1.py
and on, so that pytest-xdist's two workers share them; then what the walk found, pinned."""

from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from conversations.claude import params
from conversations.claude.capabilities import capabilities
from tests.hostile_input import (  # noqa: F401 (a pytest fixture)
    MODEL,
    SHARDS,
    Route,
    no_hostile_input_makes_a_server_error,
    shard_routes,
    walk,
    world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_catalog")]


def test_no_hostile_input_makes_a_server_error(world, caplog, monkeypatch):
    no_hostile_input_makes_a_server_error(0, world, caplog, monkeypatch)


def test_each_route_is_in_one_shard_and_each_shard_has_its_file():
    routes = list(walk())
    dealt = [route for shard in range(SHARDS) for route in shard_routes(shard)]
    assert sorted(dealt, key=str) == sorted(routes, key=str) and len(dealt) == len(routes)
    files = sorted(p.name for p in Path(__file__).parent.glob("test_chatsite_hostile_input*.py"))
    others = [f"test_chatsite_hostile_input_{k}.py" for k in range(1, SHARDS)]
    assert files == sorted(["test_chatsite_hostile_input.py", *others])


def test_the_walk_finds_every_app_and_leaves_out_the_admin():
    names = {route.name for route in walk()}
    assert {"conversation", "team_detail", "usage_dashboard", "review_list", "login", "signup"} <= names
    assert {"metrics", "healthz", "upload_attachment", "attachment_file", "favicon.ico"} <= names
    assert not any(route.route.startswith("admin/") for route in walk())
    assert reverse("conversation", args=[1]) == Route("conversation", "c/<id:conversation_id>/").path(
        {"conversation_id": "1"}
    )


# --- what the walk found, pinned -----------------------------------------------------------------


def test_a_non_ascii_metrics_token_is_refused_not_a_server_error(settings):
    settings.CHAT_METRICS_TOKEN = "metrics-secret"
    client, url = Client(raise_request_exception=False), reverse("metrics")
    for token, status in [("²", 404), ("metrics-secret", 200)]:
        assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == status


def test_a_stop_sequence_with_a_nul_is_a_form_error():
    _, errors = params.parse({"stop_sequences": ["a\x00b"]}, capabilities(MODEL))
    assert errors == ["stop_sequences: Value error, each stop sequence must be 1 to 100 characters, "
                      "not only spaces, no NUL"]  # fmt: skip


def test_a_sign_in_with_an_overlong_username_is_recorded_cut_to_fit():
    response = Client().post(reverse("login"), {"username": "u" * 100_000, "password": "wrong"})
    assert response.status_code == 200 and response.context["form"].errors["__all__"]
    assert AccessAttempt.objects.get().username == "u" * 255
