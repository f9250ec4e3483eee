"""A team's skills pages (conversations/skills/): owners upload a folder or a .zip to the (fake) API,
new versions with who and why, and delete; every refusal is a form error and sends nothing or keeps
everything; members read; anyone outside the team gets 404."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations.models import TeamSkill, TeamSkillVersion
from teams import services as team_services

SKILL_MD = b"---\nname: tone\ndescription: Writes in the team's tone. Use for replies.\n---\n# Tone\n"
RUN_PY = b"print('hello')\n"


def folder(*files: tuple[str, bytes]) -> dict:
    """A folder chosen in the form: the files (bare names, as Django keeps them) and their paths."""
    return {
        "folder": [SimpleUploadedFile(path.rsplit("/", 1)[-1], data) for path, data in files],
        "paths": [path for path, _ in files],
    }


def zip_upload(*files: tuple[str, bytes], name: str = "tone.zip") -> dict:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files:
            archive.writestr(path, data)
    return {"zip": SimpleUploadedFile(name, buffer.getvalue(), "application/zip")}


def skills_url(team) -> str:
    return reverse("team_skills", args=[team.pk])


def skill_posts(fake_api) -> list:
    return [r for r in fake_api.requests if r.path.startswith("/v1/skills")]


@pytest.fixture
def owner_client(client, people):
    client.force_login(people["owner"])
    return client


@pytest.fixture
def skill(owner_client, fake_api, team) -> TeamSkill:
    owner_client.post(skills_url(team), {**folder(("tone/SKILL.md", SKILL_MD)), "note": "First cut"})
    return TeamSkill.objects.get(team=team)


def test_an_owner_uploads_a_folder_and_the_api_gets_its_paths(owner_client, fake_api, team, people):
    upload = folder(("tone/SKILL.md", SKILL_MD), ("tone/scripts/run.py", RUN_PY))
    response = owner_client.post(skills_url(team), {**upload, "title": "Team tone", "note": "First cut"})

    skill = TeamSkill.objects.get(team=team)
    assert response.status_code == 302 and response["Location"] == reverse(
        "team_skill", args=[team.pk, skill.pk]
    )
    held = fake_api.skills.held[skill.skill_id]
    assert held.display_name == "Team tone"
    assert held.versions[0].files == {"tone/SKILL.md": SKILL_MD, "tone/scripts/run.py": RUN_PY}
    assert fake_api.requests[-1].headers["anthropic-beta"] == "skills-2025-10-02"
    (version,) = skill.versions.all()
    assert version.version == held.versions[0].version and fake_api.skill_exists(
        skill.skill_id, version.version
    )
    assert (version.author, version.note, skill.created_by) == (people["owner"], "First cut", people["owner"])
    assert version.files == [
        {"path": "tone/SKILL.md", "size": len(SKILL_MD)},
        {"path": "tone/scripts/run.py", "size": len(RUN_PY)},
    ]
    page = owner_client.get(response["Location"]).content.decode()
    assert "Team tone" in page and "First cut" in page and "tone/scripts/run.py" in page and "owner" in page


def test_a_zip_with_files_at_its_top_goes_under_the_skills_name_and_the_title_defaults_to_it(
    owner_client, fake_api, team
):
    response = owner_client.post(
        skills_url(team), zip_upload(("SKILL.md", SKILL_MD), ("ref/style.md", b"Be kind."))
    )
    assert response.status_code == 302
    skill = TeamSkill.objects.get(team=team)
    assert skill.title == "tone"
    assert set(fake_api.skills.held[skill.skill_id].versions[0].files) == {
        "tone/SKILL.md",
        "tone/ref/style.md",
    }


def test_without_the_pages_script_a_folder_arrives_as_bare_names_under_the_skills_name(
    owner_client, fake_api, team
):
    upload = folder(("my-folder/SKILL.md", SKILL_MD), ("my-folder/scripts/run.py", RUN_PY))
    del upload["paths"]
    assert owner_client.post(skills_url(team), upload).status_code == 302
    (held,) = fake_api.skills.held.values()
    assert set(held.versions[0].files) == {"tone/SKILL.md", "tone/run.py"}


def test_a_new_version_keeps_who_and_why_and_the_page_lists_them_newest_first(
    owner_client, fake_api, team, people, skill
):
    team_services.member_add(team=team, identifier="outsider", role="owner")
    owner_client.force_login(people["outsider"])
    url = reverse("team_skill", args=[team.pk, skill.pk])
    changed = SKILL_MD + b"\nAlways sign off warmly.\n"
    response = owner_client.post(url, {**zip_upload(("tone/SKILL.md", changed)), "note": "Sign-off added"})

    assert response.status_code == 302
    newest, first = skill.versions.order_by("-created_at", "-id")
    assert (newest.author, newest.note, first.author, first.note) == (
        people["outsider"],
        "Sign-off added",
        people["owner"],
        "First cut",
    )
    assert int(newest.version) > int(first.version)
    assert fake_api.skills.held[skill.skill_id].versions[-1].files == {"tone/SKILL.md": changed}
    page = owner_client.get(url).content.decode()
    assert page.index("Sign-off added") < page.index("First cut")
    assert page.index(newest.version) < page.index(first.version)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (folder(("tone/README.md", b"# no")), "No SKILL.md at the skill&#x27;s top level"),
        (folder(("a/SKILL.md", SKILL_MD), ("b/SKILL.md", SKILL_MD)), "holds 2 SKILL.md files"),
        (folder(("tone/SKILL.md", b"---\nname: tone\n---\n")), "needs a description"),
        (folder(("tone/SKILL.md", b"---\ndescription: Kind.\n---\n")), "needs a name"),
        (folder(("/tone/SKILL.md", SKILL_MD)), "absolute paths are not allowed"),
        (folder(("SKILL.md", SKILL_MD), ("../outside.txt", b"x")), "may not lead out of its folder"),
        (zip_upload(("SKILL.md", SKILL_MD), ("ref/../../x", b"x")), "may not lead out of its folder"),
        (
            folder(*[("tone/SKILL.md", SKILL_MD)] + [(f"tone/{i}.md", b"x") for i in range(200)]),
            "at most 200 files",
        ),
        ({**folder(("tone/SKILL.md", SKILL_MD)), **zip_upload(("SKILL.md", SKILL_MD))}, "not both"),
        ({"title": "Nothing chosen"}, "Choose the skill&#x27;s folder, or a .zip of it."),
        ({"zip": SimpleUploadedFile("tone.zip", b"not a zip")}, "not a readable .zip"),
    ],
)
def test_a_refused_upload_is_a_form_error_and_sends_nothing(owner_client, fake_api, team, upload, message):
    response = owner_client.post(skills_url(team), upload)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert skill_posts(fake_api) == [] and not TeamSkill.objects.exists()


def test_the_size_limit_is_checked_before_anything_is_read_or_sent(owner_client, fake_api, team, settings):
    settings.CHAT_SKILL_MAX_BYTES = 2**20
    big = folder(("tone/SKILL.md", SKILL_MD), ("tone/data.bin", b"\0" * 2**20))
    response = owner_client.post(skills_url(team), big)
    assert response.status_code == 422 and "at most 1.0 MB in all" in response.content.decode()
    response = owner_client.post(
        skills_url(team), zip_upload(("SKILL.md", SKILL_MD), ("data.bin", b"\0" * 2**21))
    )
    assert response.status_code == 422 and "this one takes 2.0 MB" in response.content.decode()
    assert skill_posts(fake_api) == [] and not TeamSkill.objects.exists()


def test_the_apis_refusal_shows_its_reason_and_records_nothing(owner_client, fake_api, team, skill):
    fake_api.skills.refuse = "Your organization has reached its skill limit."
    response = owner_client.post(
        skills_url(team), folder(("other/SKILL.md", SKILL_MD.replace(b"tone", b"other")))
    )
    assert response.status_code == 422
    reason = "(Your organization has reached its skill limit.)"
    assert (
        f"Not uploaded: The Claude API rejected the request as invalid {reason}" in response.content.decode()
    )
    assert TeamSkill.objects.count() == 1

    fake_api.skills.refuse = None
    renamed = folder(("other/SKILL.md", SKILL_MD.replace(b"name: tone", b"name: other")))
    response = owner_client.post(
        reverse("team_skill", args=[team.pk, skill.pk]), {**renamed, "note": "Renamed"}
    )
    assert (
        response.status_code == 422
        and "The skill&#x27;s name is &#x27;tone&#x27;" in response.content.decode()
    )
    assert skill.versions.count() == 1


def test_an_owner_deletes_a_skill_from_the_api_then_its_rows(owner_client, fake_api, team, skill):
    owner_client.post(reverse("team_skill", args=[team.pk, skill.pk]), folder(("tone/SKILL.md", SKILL_MD)))
    assert len(fake_api.skills.held[skill.skill_id].versions) == 2

    fake_api.skills.refuse = "Skill is in use by a running session."
    delete = reverse("team_skill_delete", args=[team.pk, skill.pk])
    kept = owner_client.post(delete)
    assert kept.status_code == 422
    assert (
        "Not deleted: The Claude API rejected the request as invalid (Skill is in use by a running session.)"
        in (kept.content.decode())
    )
    assert "The skill is kept." in kept.content.decode()
    assert (
        TeamSkillVersion.objects.filter(skill=skill).count() == 2 and skill.skill_id in fake_api.skills.held
    )

    fake_api.skills.refuse = None
    response = owner_client.post(delete)
    assert response.status_code == 302 and response["Location"] == skills_url(team)
    assert not TeamSkill.objects.exists() and not TeamSkillVersion.objects.exists()
    assert fake_api.skills.held == {}


def test_a_skill_the_api_no_longer_has_is_deleted_here_too(owner_client, fake_api, team, skill):
    fake_api.skills.held.clear()
    response = owner_client.post(reverse("team_skill_delete", args=[team.pk, skill.pk]))
    assert response.status_code == 302 and not TeamSkill.objects.exists()


# --- who may see and change what -----------------------------------------------------------------


def skill_urls(team, skill) -> list[tuple[str, str]]:
    return [
        ("get", reverse("team_skills", args=[team.pk])),
        ("post", reverse("team_skills", args=[team.pk])),
        ("get", reverse("team_skill", args=[team.pk, skill.pk])),
        ("post", reverse("team_skill", args=[team.pk, skill.pk])),
        ("post", reverse("team_skill_delete", args=[team.pk, skill.pk])),
    ]


def test_someone_outside_the_team_gets_404_on_every_url(client, fake_api, team, people, skill):
    client.force_login(people["outsider"])
    for method, url in skill_urls(team, skill):
        assert getattr(client, method)(url, folder(("x/SKILL.md", SKILL_MD))).status_code == 404, url
    assert TeamSkill.objects.count() == 1 and len(skill_posts(fake_api)) == 1  # the fixture's upload alone


def test_another_teams_skill_is_404_under_this_team(client, fake_api, team, people, skill):
    other = team_services.team_create(user=people["outsider"], name="Elsewhere")
    client.force_login(people["outsider"])
    for method, url in skill_urls(other, skill)[2:]:
        assert getattr(client, method)(url).status_code == 404, url
    assert TeamSkill.objects.filter(pk=skill.pk).exists()


def test_members_read_but_only_owners_upload_and_delete(client, fake_api, team, people, skill):
    client.force_login(people["member"])
    listing = client.get(skills_url(team)).content.decode()
    assert "tone" in listing and "Upload a skill" not in listing and 'name="folder"' not in listing
    page = client.get(reverse("team_skill", args=[team.pk, skill.pk])).content.decode()
    assert "First cut" in page and "Upload a new version" not in page and "Delete skill" not in page
    for method, url in skill_urls(team, skill):
        if method == "post":
            assert client.post(url, folder(("tone/SKILL.md", SKILL_MD))).status_code == 403, url
    client.force_login(people["editor"])  # editors edit prompts; skills are the owners'
    assert client.post(reverse("team_skill_delete", args=[team.pk, skill.pk])).status_code == 403
    assert skill.versions.count() == 1 and TeamSkill.objects.count() == 1


def test_signed_out_visitors_are_sent_to_log_in(client, fake_api, team, skill):
    client.logout()
    for method, url in skill_urls(team, skill):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/login" in response["Location"], url


def test_the_team_page_links_the_skills_for_every_member(client, team, people):
    for who in ("owner", "member"):
        client.force_login(people[who])
        page = client.get(reverse("team_detail", args=[team.pk])).content.decode()
        assert f'href="{skills_url(team)}"' in page
