"""A skill's upload checked before anything is sent (conversations/skills/bundle.py): the paths, the
SKILL.md at the top, its front matter, symlinks and the limits."""

import io
import stat
import zipfile

import pytest

from conversations.skills import bundle
from conversations.skills.bundle import BundleError

MB = 2**20
SKILL_MD = b"---\nname: tone\ndescription: Writes in the team's tone. Use for replies.\n---\n# Tone\n"


def zipped(*entries: tuple[str, bytes], infos: tuple[zipfile.ZipInfo, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries:
            archive.writestr(path, data)
        for info in infos:
            archive.writestr(info, b"target")
    return buffer.getvalue()


def test_a_folder_keeps_its_top_directory_and_paths():
    read = bundle.from_files(
        [("tone/SKILL.md", SKILL_MD), ("tone/scripts/run.py", b"print(1)"), ("tone/.DS_Store", b"junk")],
        max_bytes=MB,
    )
    assert (read.name, read.description) == ("tone", "Writes in the team's tone. Use for replies.")
    assert read.files == [("tone/SKILL.md", SKILL_MD), ("tone/scripts/run.py", b"print(1)")]
    assert read.listing() == [
        {"path": "tone/SKILL.md", "size": len(SKILL_MD)},
        {"path": "tone/scripts/run.py", "size": 8},
    ]


def test_files_at_the_top_are_put_under_the_skills_name():
    read = bundle.from_zip(
        zipped(("SKILL.md", SKILL_MD), ("ref\\notes.md", b"n"), ("__MACOSX/._SKILL.md", b"x")), max_bytes=MB
    )
    assert [path for path, _ in read.files] == ["tone/SKILL.md", "tone/ref/notes.md"]


def test_a_zip_with_one_top_directory_is_kept_as_it_is():
    read = bundle.from_zip(
        zipped(("my-folder/SKILL.md", SKILL_MD), ("my-folder/./a.txt", b"a")), max_bytes=MB
    )
    assert [path for path, _ in read.files] == ["my-folder/SKILL.md", "my-folder/a.txt"]


@pytest.mark.parametrize(
    ("text", "name", "description"),
    [
        ("---\nname: \"tone\"\ndescription: 'Its kind.'\n---\n", "tone", "Its kind."),
        (
            "---\nname: tone # the slug\ndescription: >\n  Folded\n  lines.\nlicense: MIT\n---\n",
            "tone",
            "Folded lines.",
        ),
        ("\ufeff---\r\nname: tone\r\ndescription: |\r\n  One.\r\n  Two.\r\n---\r\n", "tone", "One.\nTwo."),
        (
            "---\nmetadata:\n  name: nested\nname: tone\ndescription: Plain\n  continued.\n---\nbody",
            "tone",
            "Plain continued.",
        ),
    ],
)
def test_the_front_matter_is_read_as_yaml_writes_it(text: str, name: str, description: str):
    read = bundle.from_files([("SKILL.md", text.encode())], max_bytes=MB)
    assert (read.name, read.description) == (name, description)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("tone/README.md", b"x")], "No SKILL.md at the skill's top level"),
        ([("tone/inner/SKILL.md", SKILL_MD)], "No SKILL.md at the skill's top level"),
        (
            [("a/SKILL.md", SKILL_MD), ("b/SKILL.md", SKILL_MD)],
            "holds 2 SKILL.md files (a/SKILL.md, b/SKILL.md)",
        ),
        ([("tone/skill.md", SKILL_MD)], "SKILL.md, in capitals"),
        ([("/etc/SKILL.md", SKILL_MD)], "/etc/SKILL.md: absolute paths are not allowed"),
        ([("C:\\skill\\SKILL.md", SKILL_MD)], "absolute paths are not allowed"),
        ([("SKILL.md", SKILL_MD), ("ref/../../x", b"x")], "may not lead out of its folder"),
        ([("SKILL.md", SKILL_MD), ("a.txt", b"1"), ("./a.txt", b"2")], "a.txt appears twice"),
        ([("SKILL.md", b"# Tone\n")], "must open with front matter"),
        ([("SKILL.md", b"---\nname: tone\n")], "no closing --- line"),
        ([("SKILL.md", b"---\ndescription: Kind.\n---\n")], "needs a name"),
        ([("SKILL.md", b"---\nname: tone\n---\n")], "needs a description"),
        ([("SKILL.md", b"---\nname: tone\ndescription: ''\n---\n")], "needs a description"),
        (
            [("SKILL.md", b"---\nname: Team Tone\ndescription: x\n---\n")],
            "lowercase letters, digits and hyphens",
        ),
        ([("SKILL.md", b"---\nname: " + b"a" * 65 + b"\ndescription: x\n---\n")], "at most 64"),
        ([("SKILL.md", b"---\nname: claude-tone\ndescription: x\n---\n")], "may not contain"),
        ([("SKILL.md", b"---\nname: tone\ndescription: " + b"x" * 1025 + b"\n---\n")], "at most 1024"),
        ([("SKILL.md", b"---\nname: tone\ndescription: Use <b>this</b>\n---\n")], "XML tags"),
        ([("SKILL.md", b"---\nname: tone\ndescription: \xff\n---\n")], "not UTF-8"),
        ([], "Choose a folder"),
    ],
)
def test_refused_folders_say_what_to_fix(files, message: str):
    with pytest.raises(BundleError) as refused:
        bundle.from_files(files, max_bytes=MB)
    assert message in str(refused.value)


def test_the_limits_count_files_and_bytes():
    many = [("SKILL.md", SKILL_MD)] + [(f"ref/{i}.md", b"x") for i in range(200)]
    with pytest.raises(BundleError, match="at most 200 files; this one has 201"):
        bundle.from_files(many, max_bytes=MB)
    assert len(bundle.from_files(many[:200], max_bytes=MB).files) == 200
    with pytest.raises(BundleError, match=r"at most 0\.0 MB in all; this one takes 0\.0 MB"):
        bundle.from_files([("SKILL.md", SKILL_MD)], max_bytes=10)
    big = zipped(("SKILL.md", SKILL_MD), ("data.bin", b"\0" * (2 * MB)))  # small compressed, large inside
    assert len(big) < MB
    with pytest.raises(BundleError, match=r"at most 1\.0 MB in all; this one takes 2\.0 MB"):
        bundle.from_zip(big, max_bytes=MB)


def test_a_zip_may_not_hold_a_symlink_or_a_password_and_must_be_a_zip():
    link = zipfile.ZipInfo("tone/latest")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(BundleError, match="tone/latest is a symbolic link"):
        bundle.from_zip(zipped(("tone/SKILL.md", SKILL_MD), infos=(link,)), max_bytes=MB)
    data = bytearray(zipped(("tone/SKILL.md", SKILL_MD), ("tone/secret.txt", b"s")))
    central = data.rfind(b"PK\x01\x02")  # the last file's central directory entry: mark it encrypted
    data[central + 8] |= 0x1
    with pytest.raises(BundleError, match="tone/secret.txt is encrypted"):
        bundle.from_zip(bytes(data), max_bytes=MB)
    with pytest.raises(BundleError, match="not a readable .zip"):
        bundle.from_zip(b"PK not really", max_bytes=MB)
