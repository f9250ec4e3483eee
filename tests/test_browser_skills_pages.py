# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Team skills in a real browser: alice, an owner, opens Skills from the team's page and uploads a
folder (the page sends each file's path in the folder, so the API gets the skill's subfolders),
then a new version as a .zip with a note; a refused folder shows why. bob, a member, reads the
pages without their forms; carol, outside the team, gets 404. alice deletes the skill. Axe finds
nothing serious; screenshots of both pages at 1280 and 390 px, light and dark
(test-results/skills-*.png)."""

from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import Browser, expect

from fakes import FakeAnthropic
from tests.helpers import serious_violations, signed_in
from tests.live import PYTHON, ROOT, LiveApp, live_app, live_fake_api  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SHOTS = ROOT / "test-results"
SEED = """
from teams.services import member_add, team_create
from django.contrib.auth import get_user_model
User = get_user_model()
team = team_create(user=User.objects.get(username="alice"), name="Support")
member_add(team=team, identifier="bob", role="member")
User.objects.create_user("carol", password="carol-pass-123")
print(team.pk)
"""
SKILL_MD = "---\nname: support-tone\ndescription: Writes replies in the support team's tone.\n---\n# Tone\n"


def skill_folder(root, name: str = "support-tone", skill_md: str = SKILL_MD):
    folder = root / name
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(skill_md)
    (folder / "scripts" / "sign_off.py").write_text("print('Kind regards')\n")
    return folder


def test_owners_upload_and_delete_members_read_and_strangers_get_404(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic, tmp_path
) -> None:
    live_fake_api.reset()
    team_id = live_app.shell(SEED).splitlines()[-1]
    live_app.users["carol"] = "carol-pass-123"

    alice = signed_in(browser, live_app, "alice", viewport={"width": 1280, "height": 900}, axe=True)
    alice.goto(f"{live_app.url}/teams/{team_id}/")
    alice.get_by_role("link", name="Skills").click()
    expect(alice.get_by_role("heading", name="Skills for Support")).to_be_visible()

    # A folder without SKILL.md is refused before anything is sent.
    empty = tmp_path / "empty" / "notes"
    empty.mkdir(parents=True)
    (empty / "README.md").write_text("# Notes\n")
    alice.get_by_label("A folder").set_input_files(empty)
    alice.get_by_role("button", name="Upload skill").click()
    expect(alice.get_by_role("alert")).to_contain_text("No SKILL.md at the skill's top level")
    assert not any(r.path == "/v1/skills" for r in live_fake_api.requests)

    # The refusal is a new page: its skills.js (deferred) sends each file's path once it has run.
    alice.wait_for_load_state()
    alice.get_by_label("A folder").set_input_files(skill_folder(tmp_path))
    alice.get_by_label("Title").fill("Support tone")
    alice.get_by_label("Note").fill("First cut")
    alice.get_by_role("button", name="Upload skill").click()
    alice.wait_for_url(re.compile(r"/teams/\d+/skills/\d+/$"))
    skill_url = alice.url
    expect(alice.get_by_role("heading", name="Support tone")).to_be_visible()
    (held,) = live_fake_api.skills.held.values()
    assert set(held.versions[0].files) == {"support-tone/SKILL.md", "support-tone/scripts/sign_off.py"}

    archive = tmp_path / "support-tone.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("SKILL.md", SKILL_MD + "\nSign off warmly.\n")
    alice.get_by_label("Or a .zip of it").set_input_files(archive)
    alice.get_by_label("What changed").fill("Warmer sign-off")
    alice.get_by_role("button", name="Upload version").click()
    versions = alice.get_by_role("region", name="Versions").get_by_role("listitem")
    expect(versions.first).to_contain_text("Warmer sign-off")
    expect(versions.nth(1)).to_contain_text("First cut")
    assert len(held.versions) == 2
    assert serious_violations(alice) == []

    bob = signed_in(browser, live_app, "bob", viewport={"width": 1280, "height": 900}, axe=True)
    bob.goto(skill_url)
    expect(bob.get_by_text("Warmer sign-off")).to_be_visible()
    expect(bob.get_by_role("button", name="Delete skill")).to_have_count(0)
    expect(bob.get_by_role("button", name="Upload version")).to_have_count(0)
    bob.context.close()

    carol = signed_in(browser, live_app, "carol", viewport={"width": 1280, "height": 900}, axe=True)
    for url in (skill_url, f"{live_app.url}/teams/{team_id}/skills/"):
        assert carol.goto(url).status == 404, url
    carol.context.close()

    screenshots(browser, live_app, f"{live_app.url}/teams/{team_id}/skills/", skill_url)

    alice.goto(skill_url)
    alice.get_by_role("button", name="Delete skill").click()
    alice.wait_for_url(re.compile(r"/teams/\d+/skills/$"))
    expect(alice.get_by_text("None yet.")).to_be_visible()
    assert live_fake_api.skills.held == {}
    alice.context.close()


def screenshots(browser: Browser, app: LiveApp, list_url: str, skill_url: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser, app, "alice", viewport={"width": width, "height": 900}, color_scheme=scheme, axe=True
            )
            for name, url in (("list", list_url), ("skill", skill_url)):
                page.goto(url)
                expect(page.get_by_role("heading", level=1)).to_be_visible()
                page.screenshot(path=SHOTS / f"skills-{name}-{width}-{scheme}.png", full_page=True)
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                    name,
                    width,
                )
                assert serious_violations(page) == [], (name, width, scheme)
            page.context.close()
