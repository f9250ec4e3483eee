"""A fast start (issue 28, item 5): commands that never call the API do not import the SDK (or
Twisted), a server loads it in the background, and `runchat` (what `make run` runs) sets up and
serves in one process and stops everything it started on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import httpx2
import pytest
from django.core.management import call_command

from bench.procs import free_port
from conversations.claude import llm
from conversations.management.commands.runchat import static_files_current
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
IMPORTED = """
import sys, django
django.setup()
{run}
print(" ".join(sorted({{name.split(".")[0] for name in sys.modules}} & {{"anthropic", "twisted"}})))
"""


def app_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The app's defaults in `data_dir` (SQLite, no Redis), whatever this run was configured with."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CHAT_", "ANTHROPIC_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    return {**env, "CHAT_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "chatsite.settings", **extra}


def imported_after(run: str, tmp_path: Path) -> str:
    """Which of anthropic and twisted a fresh process has imported after `run`."""
    code = IMPORTED.format(run=run)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=app_env(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]  # the last line: what the snippet printed


def test_manage_py_check_imports_neither_the_sdk_nor_twisted(tmp_path):
    run = "from django.core.management import call_command; call_command('check')"
    assert imported_after(run, tmp_path) == ""


def test_a_server_loads_the_sdk_in_the_background(tmp_path):
    run = """
import threading
import chatsite.asgi
for thread in threading.enumerate():
    if thread.name == "import-anthropic":
        thread.join(timeout=60)
"""
    assert imported_after(run, tmp_path) == "anthropic"


def test_the_sdk_names_other_modules_use_are_there_on_first_use():
    assert llm.anthropic is anthropic
    for name in ("STREAM_ERRORS", "FILE_ERRORS", "BATCH_ERRORS", "SKILL_ERRORS"):
        assert getattr(llm, name) == (anthropic.APIError, httpx2.TransportError, TimeoutError)
    with pytest.raises(AttributeError):
        llm.STREAM_ERROR  # noqa: B018


def test_an_api_error_without_a_body_is_still_described_by_its_class(settings):
    settings.CHAT_USE_LOCAL_MODEL = False
    response = httpx2.Response(429, request=httpx2.Request("POST", "https://api.example/v1/messages"))
    exc = anthropic.RateLimitError("slow down", response=response, body=None)
    assert llm.describe_error(exc)[0] == "The Claude API is rate limiting this instance; try again shortly"
    exc = anthropic.types.CompactionNothingToSummarizeError("nothing", response=response, body=None)
    assert llm.describe_error(exc)[0] == "There is nothing yet to summarize in this conversation"


# --- collectstatic skipped when the manifest is current ------------------------------------------


@pytest.fixture
def manifest_static(settings, tmp_path):
    """Production's hashed and compressed static files, of one source folder of our own."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "app.css").write_text("body { color: black; }")
    settings.STATICFILES_DIRS = [source]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = tmp_path / "collected"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    return source


def collect() -> None:
    call_command("collectstatic", interactive=False, verbosity=0)


def test_static_files_are_current_once_collected_until_a_source_changes(manifest_static):
    assert not static_files_current()  # nothing collected yet
    collect()
    assert static_files_current()
    earlier = time.time() - 10  # collected 10 s ago, and the source edited since
    os.utime(manifest_static.parent / "collected" / "staticfiles.json", (earlier, earlier))
    assert not static_files_current()
    collect()
    assert static_files_current()


def test_a_new_static_file_is_not_current(manifest_static):
    collect()
    (manifest_static / "new.js").write_text("console.log(1);")
    os.utime(manifest_static / "new.js", (0, 0))  # older than the manifest: its name tells
    assert not static_files_current()


def test_without_a_manifest_collectstatic_always_runs(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    assert not static_files_current()


# --- runchat: set up and serve in one process --------------------------------------------------


def test_runchat_sets_up_a_fresh_data_dir_serves_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    login = f"http://127.0.0.1:{port}/accounts/login/"
    env = app_env(tmp_path, ANTHROPIC_BASE_URL="http://127.0.0.1:9", ANTHROPIC_API_KEY="test")
    log = tmp_path / "runchat.log"
    with log.open("w") as out:
        runchat = subprocess.Popen(
            [sys.executable, "manage.py", "runchat", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: served(login, runchat), timeout=90, what="the login page")
        os.killpg(runchat.pid, signal.SIGINT)
        assert runchat.wait(timeout=30) == 0
    finally:
        if runchat.poll() is None:
            os.killpg(runchat.pid, signal.SIGKILL)
    text = log.read_text()
    assert "Created the first admin." in text  # migrated, then ensure_admin, in this process
    assert f"Chat at http://127.0.0.1:{port}/" in text
    assert (tmp_path / "staticfiles" / "conversations").is_dir()  # collected
    with pytest.raises(ProcessLookupError):  # the purge beside it stopped too
        os.killpg(runchat.pid, 0)


def served(url: str, process: subprocess.Popen) -> bool:
    assert process.poll() is None, "runchat exited"
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
