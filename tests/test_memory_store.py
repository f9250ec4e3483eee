"""The memory tool's operations (memory/store.py): one person's /memories tree, nothing outside."""

import pytest
from anthropic.types import beta as sdk

from memory import store
from memory.models import MemoryFile


def run(user, **command):
    return store.run(user.pk, command)


def paths(user) -> list[str]:
    return list(MemoryFile.objects.filter(owner=user).values_list("path", flat=True))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (store.View, sdk.BetaMemoryTool20250818ViewCommand),
        (store.Create, sdk.BetaMemoryTool20250818CreateCommand),
        (store.StrReplace, sdk.BetaMemoryTool20250818StrReplaceCommand),
        (store.Insert, sdk.BetaMemoryTool20250818InsertCommand),
        (store.Delete, sdk.BetaMemoryTool20250818DeleteCommand),
        (store.Rename, sdk.BetaMemoryTool20250818RenameCommand),
    ],
)
def test_the_commands_are_the_sdks(ours, theirs):
    def shape(model):
        return {name: (str(f.annotation), f.is_required()) for name, f in model.model_fields.items()}

    assert shape(ours).keys() == shape(theirs).keys()
    assert {n: r for n, (_, r) in shape(ours).items()} == {n: r for n, (_, r) in shape(theirs).items()}
    [command] = theirs.model_fields["command"].annotation.__args__
    assert ours.model_fields["command"].annotation.__args__ == (command,) and command in store.OPERATIONS


@pytest.mark.django_db
def test_create_view_edit_rename_and_delete_a_note(alice):
    assert run(
        alice, command="create", path="/memories/prefs.md", file_text="Tea, not coffee.\nLikes cats.\n"
    ) == (
        "File created successfully at: /memories/prefs.md",
        False,
    )
    text, error = run(alice, command="view", path="/memories/prefs.md")
    assert not error and text == (
        "Here's the content of /memories/prefs.md with line numbers:\n"
        "     1\tTea, not coffee.\n     2\tLikes cats.\n     3\t"
    )
    assert (
        run(alice, command="str_replace", path="/memories/prefs.md", old_str="cats", new_str="dogs")[1]
        is False
    )
    assert (
        run(alice, command="insert", path="/memories/prefs.md", insert_line=0, insert_text="# Prefs")[1]
        is False
    )
    assert MemoryFile.objects.get(owner=alice).content == "# Prefs\nTea, not coffee.\nLikes dogs.\n"
    assert run(alice, command="view", path="/memories/prefs.md", view_range=[2, 2])[0].endswith(
        "     2\tTea, not coffee."
    )

    assert run(alice, command="rename", old_path="/memories/prefs.md", new_path="/memories/me/prefs.md") == (
        "Successfully renamed /memories/prefs.md to /memories/me/prefs.md",
        False,
    )
    listing, _ = run(alice, command="view", path="/memories")
    assert listing.splitlines()[1:] == ["37B\t/memories", "37B\t/memories/me/", "37B\t/memories/me/prefs.md"]
    assert run(alice, command="delete", path="/memories/me") == ("Successfully deleted /memories/me", False)
    assert paths(alice) == []


@pytest.mark.django_db
def test_mistakes_are_tool_errors_that_leave_memory_unchanged(alice):
    run(alice, command="create", path="/memories/a.md", file_text="x x")
    cases = [
        ({"command": "create", "path": "/memories/a.md", "file_text": "again"}, "already exists"),
        ({"command": "str_replace", "path": "/memories/a.md", "old_str": "x", "new_str": "y"}, "Multiple"),
        (
            {"command": "str_replace", "path": "/memories/a.md", "old_str": "z", "new_str": "y"},
            "did not appear",
        ),
        ({"command": "insert", "path": "/memories/a.md", "insert_line": 9, "insert_text": "y"}, "[0, 1]"),
        ({"command": "view", "path": "/memories/none.md"}, "does not exist"),
        ({"command": "delete", "path": "/memories"}, "itself"),
        ({"command": "rename", "old_path": "/memories/a.md", "new_path": "/memories/a.md/b"}, "into itself"),
        ({"command": "create", "path": "/memories/a.md/b.md", "file_text": ""}, "a file cannot hold"),
        ({"command": "frobnicate", "path": "/memories/a.md"}, "Invalid memory command"),
        ({"command": "create", "path": "/memories/b.md"}, "Invalid memory command"),  # no file_text
        ({"command": "create", "path": "/memories/big.md", "file_text": "x" * 100_001}, "limited to"),
        ({"command": "create", "path": "/memories/nul.md", "file_text": "a\x00b"}, "NUL"),
        ({"command": "str_replace", "path": "/memories/a.md", "old_str": "x x", "new_str": "\x00"}, "NUL"),
    ]
    for command, message in cases:
        text, error = store.run(alice.pk, command)
        assert error and message in text, (command, text)
    assert [(f.path, f.content) for f in MemoryFile.objects.all()] == [("/memories/a.md", "x x")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/memories/../etc/passwd",
        "/memories/notes/../../secrets",
        "/memories/..",
        "/memories/./a.md",
        "/memories//a.md",
        "/etc/passwd",
        "/",
        "/memoriesX/a.md",
        "memories/a.md",
        "a.md",
        "",
        "/memories/a\x00.md",
        "/memories/a\n.md",
        "/memories\\..\\x",
        "/memories/" + "a" * 300,
    ],
)
def test_paths_outside_memories_are_refused(alice, bob, path):
    run(bob, command="create", path="/memories/secret.md", file_text="bob's")
    for command in [
        {"command": "create", "path": path, "file_text": "pwned"},
        {"command": "view", "path": path},
        {"command": "delete", "path": path},
        {"command": "rename", "old_path": "/memories/secret.md", "new_path": path},
        {"command": "rename", "old_path": path, "new_path": "/memories/x.md"},
    ]:
        text, error = store.run(alice.pk, command)
        assert error, (path, command, text)
    assert paths(alice) == [] and paths(bob) == ["/memories/secret.md"]


@pytest.mark.django_db
def test_each_person_sees_only_their_own_tree(alice, bob):
    run(bob, command="create", path="/memories/secret.md", file_text="bob's secret")
    assert run(alice, command="view", path="/memories") == (
        "Here're the files and directories up to 2 levels deep in /memories, excluding hidden items:\n"
        "0B\t/memories",
        False,
    )
    assert run(alice, command="view", path="/memories/secret.md")[1] is True
    assert run(alice, command="delete", path="/memories/secret.md")[1] is True
    assert run(alice, command="create", path="/memories/secret.md", file_text="mine")[1] is False
    assert MemoryFile.objects.get(owner=bob).content == "bob's secret"


@pytest.mark.django_db
def test_memory_is_off_until_turned_on_and_the_instance_can_turn_it_off(alice, settings):
    assert not store.is_enabled(alice.pk)
    store.set_enabled(alice.pk, True)
    assert store.is_enabled(alice.pk)
    settings.CHAT_MEMORY = False
    assert not store.is_enabled(alice.pk)
