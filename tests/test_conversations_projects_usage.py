"""Projects in usage and export: a row per project on the usage dashboard and in its CSV, and a
project chat's JSON export names its project, which an import takes only when the importer may
open it (never someone else's project)."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from conversations.library import exporting
from conversations.models import ApiCall, Conversation
from conversations.projects import services as projects
from conversations.sending import SendCommand, conversation_post
from tests.helpers import reply_with_usage

pytestmark = pytest.mark.django_db


@pytest.fixture
def handbook(team, people):
    return projects.project_create(
        user=people["editor"], name="Handbook", instructions="Answer from the handbook.", team=team
    )


def test_the_dashboard_and_its_csv_have_a_row_per_project(client, staff, people, team, handbook):
    mine = projects.project_create(user=people["member"], name="Handbook", instructions="Mine.", team=None)
    for project, cost in ((handbook, "0.03"), (mine, "0.01")):
        version = project.instructions.latest
        chat = Conversation.objects.create(
            owner=people["member"], model="claude-sonnet-4-6", project=project, prompt_version=version
        )
        reply_with_usage(chat, input_tokens=100, output_tokens=10, cost=Decimal(cost))
        title = {"kind": "title", "model": "claude-haiku-4-5", "cost": Decimal("0.001")}
        ApiCall.objects.create(conversation=chat, user=people["member"], **title)
    plain = Conversation.objects.create(owner=people["member"], model="claude-sonnet-4-6")
    reply_with_usage(plain, input_tokens=5, cost=Decimal("0.002"))

    client.force_login(staff)
    page = client.get(reverse("usage_dashboard"))
    rows = page.context["projects"]
    assert [(row["label"], row["project_team"], row["cost"], row["overhead_calls"]) for row in rows] == [
        ("Handbook", "Support", Decimal("0.031"), 1),  # the same name in two owners: two rows
        ("Handbook", None, Decimal("0.011"), 1),
        (None, None, Decimal("0.002"), 0),
    ]
    html = page.content.decode()
    assert "By project" in html and "team Support" in html

    exported = client.get(reverse("usage_dashboard"), {"export": "projects"}).content.decode()
    table = list(csv.reader(io.StringIO(exported)))
    assert table[0][:3] == ["project", "project_team", "replies"]
    assert [row[:3] for row in table[1:]] == [
        ["Handbook", "Support", "1"],
        ["Handbook", "", "1"],
        ["", "", "1"],
    ]


def _start(project, user):
    command = SendCommand("When do we ship?", model="claude-sonnet-4-6", project_id=project.pk)
    return conversation_post(user=user, command=command).conversation


def test_the_json_export_of_a_project_chat_names_the_project(handbook, people):
    chat = _start(handbook, people["member"])
    data = exporting.conversation_data(chat)
    assert data["project"] == {"id": handbook.pk, "name": "Handbook"}
    assert "Project: Handbook" in exporting.as_markdown(data)
    plain = Conversation.objects.create(owner=people["member"], model="claude-sonnet-4-6")
    assert exporting.conversation_data(plain)["project"] is None


def _reimport(data: dict, user) -> Conversation:
    return exporting.conversation_import(user=user, data=exporting.parse(json.dumps(data).encode()))


def test_an_import_is_in_the_project_only_when_the_importer_may_open_it(handbook, people):
    data = exporting.conversation_data(_start(handbook, people["member"]))

    back = _reimport(data, people["member"])  # their own export, back in
    assert back.project_id == handbook.pk and back.prompt_version_id == data["system_prompt"]["id"]
    teammate = _reimport(data, people["owner"])
    assert teammate.project_id == handbook.pk

    stranger = _reimport(data, people["outsider"])  # not in the team: no project, no prompt
    assert stranger.project_id is None and stranger.prompt_version_id is None

    mine = projects.project_create(user=people["outsider"], name="Mine", instructions="Mine.", team=None)
    forged = {**data, "project": {"id": mine.pk, "name": "Mine"}}  # a project of theirs, another prompt
    assert _reimport(forged, people["outsider"]).project_id is None
    for bad in ({"id": "1"}, {"id": True}, {"id": 10**30}, {}):
        assert _reimport({**data, "project": bad}, people["member"]).project_id is None
