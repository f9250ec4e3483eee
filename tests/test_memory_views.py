"""The Memory page (memory/views.py): read, edit, delete and clear your own memory; the switch."""

import pytest
from django.urls import reverse

from memory import store
from memory.models import MemoryFile, MemorySetting

LONG_PATH = "/memories/projects/" + "quarterly-planning-" * 8 + "notes.md"


@pytest.fixture
def notes(alice, bob):
    store.run(
        alice.pk, {"command": "create", "path": "/memories/prefs.md", "file_text": "Tea <script>x</script>"}
    )
    store.run(alice.pk, {"command": "create", "path": LONG_PATH, "file_text": "Q3: ship\nQ4: rest\n"})
    store.run(bob.pk, {"command": "create", "path": "/memories/bob.md", "file_text": "Bob's secret"})
    return {f.path: f for f in MemoryFile.objects.filter(owner=alice)}


@pytest.mark.django_db
def test_the_page_shows_only_your_own_notes_escaped(client, alice, notes):
    client.force_login(alice)
    page = client.get(reverse("memory")).content.decode()
    assert "/memories/prefs.md" in page and LONG_PATH in page
    assert "Tea &lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page
    assert "Bob&#x27;s secret" not in page and "Bob's secret" not in page
    assert "Memory is off." in page and "2 files" in page


@pytest.mark.django_db
def test_when_a_note_changed_is_a_time_the_browser_shows_in_its_zone(client, alice, notes):
    client.force_login(alice)
    page = client.get(reverse("memory")).content.decode()
    moment = notes["/memories/prefs.md"].updated_at
    assert f'<time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M} UTC</time>' in page


@pytest.mark.django_db
def test_turning_memory_on_and_off(client, alice):
    client.force_login(alice)
    client.post(reverse("memory_settings"), {"enabled": "on"})
    assert store.is_enabled(alice.pk) and "Memory is on." in client.get(reverse("memory")).content.decode()
    client.post(reverse("memory_settings"), {})
    assert not store.is_enabled(alice.pk)
    assert MemorySetting.objects.get(user=alice).enabled is False


@pytest.mark.django_db
def test_edit_delete_and_clear(client, alice, bob, notes):
    client.force_login(alice)
    prefs = notes["/memories/prefs.md"]
    response = client.post(reverse("memory_file", args=[prefs.pk]), {"content": "Coffee now.\r\nAnd cake."})
    assert response.status_code == 302 and response["Location"] == f"/memory/#file-{prefs.pk}"
    assert MemoryFile.objects.get(pk=prefs.pk).content == "Coffee now.\nAnd cake."
    assert "Saved /memories/prefs.md." in client.get(reverse("memory")).content.decode()

    too_long = client.post(
        reverse("memory_file", args=[prefs.pk]), {"content": "x" * (store.MAX_FILE_CHARS + 1)}
    )
    assert too_long.status_code == 422 and "limited to" in too_long.content.decode()
    assert MemoryFile.objects.get(pk=prefs.pk).content == "Coffee now.\nAnd cake."
    nul = client.post(reverse("memory_file", args=[prefs.pk]), {"content": "a\x00b"})
    assert nul.status_code == 422 and "NUL" in nul.content.decode()

    client.post(reverse("memory_file_delete", args=[prefs.pk]))
    assert list(MemoryFile.objects.filter(owner=alice).values_list("path", flat=True)) == [LONG_PATH]
    client.post(reverse("memory_clear"))
    assert not MemoryFile.objects.filter(owner=alice).exists()
    assert MemoryFile.objects.filter(owner=bob).count() == 1
    page = client.get(reverse("memory")).content.decode()
    assert "Memory is empty." in page and "File deleted." in page and "Memory cleared." in page


@pytest.mark.django_db
def test_another_persons_note_is_a_404(client, alice, bob, notes):
    theirs = MemoryFile.objects.get(owner=bob)
    client.force_login(alice)
    assert client.post(reverse("memory_file", args=[theirs.pk]), {"content": "pwned"}).status_code == 404
    assert client.post(reverse("memory_file_delete", args=[theirs.pk])).status_code == 404
    assert MemoryFile.objects.get(pk=theirs.pk).content == "Bob's secret"


@pytest.mark.django_db
def test_signed_out_and_get_requests(client, alice, notes):
    assert client.get(reverse("memory")).status_code == 302
    assert client.post(reverse("memory_clear")).status_code == 302
    assert MemoryFile.objects.filter(owner=alice).count() == 2
    client.force_login(alice)
    assert client.get(reverse("memory_clear")).status_code == 405


@pytest.mark.django_db
def test_the_instance_switch_hides_the_personal_one(client, alice, settings):
    settings.CHAT_MEMORY = False
    client.force_login(alice)
    page = client.get(reverse("memory")).content.decode()
    assert "turned off for everyone" in page and 'name="enabled"' not in page
