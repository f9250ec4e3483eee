"""Run the real app (daphne, its own SQLite file) as a subprocess, for browser tests.

Fixtures (import them into a test module with ``from tests.live import ...``):

* ``live_fake_api``      module: a FakeAnthropic server (40 tokens/s unless a Reply says otherwise),
                         for the live app (conftest's ``fake_api`` is the in-process tests' own)
* ``live_app``           module: the app pointed at ``live_fake_api``; users alice and bob. Each
                         module's pair is new, booted while the module before it ran (a spare).
* ``embedded_model``     session: ``manage.py localmodel`` on a free port (the embedded SmolLM2)
* ``live_app_embedded``  module: the app with no API settings, using ``embedded_model``
* ``browser``            session: Playwright's sync Chromium (/usr/bin/chromium)
* ``page``               function: a page in a fresh browser context

Each app gets a fresh temp data dir (CHAT_DATA_DIR: its own database and secret key). Only the
processes started here are ever stopped, by their Popen handle; an app stops in the background (its
data dir removed once it exited), so the next module need not wait for daphne's shutdown.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from fakes import FakeAnthropic

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

USERS = {"alice": "alice-pass-123", "bob": "bob-pass-123"}

# Settings the app reads from the environment; the parent's values must not leak into a test app.
_APP_ENV_PREFIXES = ("ANTHROPIC_", "CHAT_", "DJANGO_", "DATABASE_URL", "REDIS_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_APP_ENV_PREFIXES)}
    env.update(
        CHAT_DATA_DIR=str(data_dir),
        DJANGO_DEBUG="1",
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        PYTHONUNBUFFERED="1",
        # Off unless a test asks (env_extra): a title call would take the next script from the fake.
        CHAT_GENERATED_TITLES="0",
    )
    env.update(extra)
    return env


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """Stop one process we started: SIGTERM, then SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_log_tail(log)}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s:\n{_log_tail(log)}")


_templates: dict[tuple, Path] = {}


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL included), through SQLite's backup API."""
    with contextlib.closing(sqlite3.connect(source)) as src:
        with contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst)


def _template_database(users: dict[str, str]) -> Path:
    """A database migrated and holding `users`, made once per test process: every live app starts
    from a copy of it instead of running migrate and a user-creating shell of its own (two Django
    start-ups and the password hashing, about 5 s per module)."""
    key = tuple(sorted(users.items()))
    if key not in _templates:
        data_dir = Path(tempfile.mkdtemp(prefix="chat-template-"))
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
        creates = "".join(f"U.objects.create_user({name!r}, password={pw!r}); " for name, pw in users.items())
        code = (
            "from django.core.management import call_command; call_command('migrate', interactive=False, "
            "verbosity=0); from django.contrib.auth import get_user_model; U = get_user_model(); " + creates
        )
        result = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", code],
            cwd=ROOT, env=app_env(data_dir), capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"the template database failed:\n{result.stdout}\n{result.stderr}")
        _templates[key] = data_dir / "db.sqlite3"
    return _templates[key]


@dataclass
class LiveApp:
    """The chat app served by daphne in a subprocess, with its own data dir."""

    env_extra: dict[str, str]
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    data_dir: Path = field(init=False)
    port: int = 0
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-live-"))
        self.env = app_env(self.data_dir, **self.env_extra)
        self.log_path = self.data_dir / "daphne.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> None:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def shell(self, code: str) -> str:
        """What `manage.py shell -c code` prints, run in this app's own database (the code's seed)."""
        result = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"manage.py shell failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout.strip()

    def start(self) -> LiveApp:
        return self.launch().wait_ready()

    def launch(self) -> LiveApp:
        """Start daphne on a copy of the template database, without waiting for it to answer."""
        _copy_database(_template_database(self.users), self.data_dir / "db.sqlite3")
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "chatsite.asgi:application",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self) -> LiveApp:
        try:
            _wait_http(f"{self.url}/accounts/login/", self.proc, self.log_path, 60, "daphne")
        except BaseException:
            self.stop()
            raise
        return self

    def log(self, lines: int = 80) -> str:
        return _log_tail(self.log_path, lines)

    def stop(self) -> None:
        """SIGTERM now; the wait for the exit (daphne takes 1-2 s) and the data dir's removal in a
        thread of their own (non-daemon: the test process waits for it before it exits)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
        threading.Thread(target=_reap, args=(proc, self.data_dir), name="stop-live-app").start()


def _reap(proc: subprocess.Popen | None, data_dir: Path) -> None:
    _stop(proc)
    shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class EmbeddedModel:
    """`manage.py localmodel` (llama.cpp serving SmolLM2) in a subprocess."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key_file(self) -> Path:
        """Where it wrote the key it wants (its CHAT_DATA_DIR); an app gets this path."""
        return self.data_dir / "local_model.key"

    def start(self, timeout: float = 120) -> EmbeddedModel:
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-model-"))
        self.log_path = self.data_dir / "localmodel.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "manage.py", "localmodel", "--url", self.url],
                cwd=ROOT,
                env=app_env(self.data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_http(f"{self.url}/health", self.proc, self.log_path, timeout, "localmodel")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- fixtures


def _fake_and_app() -> tuple[FakeAnthropic, LiveApp]:
    """A new fake API and an app pointed at it, the app launched (not yet answering)."""
    fake = FakeAnthropic(default_tokens_per_second=40).start()
    try:
        app = LiveApp({"ANTHROPIC_BASE_URL": fake.base_url, "ANTHROPIC_API_KEY": "test-key"}).launch()
    except BaseException:
        fake.stop()
        raise
    return fake, app


@pytest.fixture(scope="session")
def _spare_pair() -> Iterator[list[tuple[FakeAnthropic, LiveApp]]]:
    """The next module's fake and app (none or one), booting while this module's tests run."""
    spare: list[tuple[FakeAnthropic, LiveApp]] = []
    yield spare
    for fake, app in spare:  # the last module's spare: no module took it
        app.stop()
        fake.stop()


@pytest.fixture(scope="module")
def _live_pair(_spare_pair: list) -> Iterator[tuple[FakeAnthropic, LiveApp]]:
    """This module's fake and app, as new as ever: the spare the module before left, or a new
    pair; and a spare for the next module."""
    pair = _spare_pair.pop() if _spare_pair else _fake_and_app()
    _spare_pair.append(_fake_and_app())
    try:
        yield pair
    finally:
        pair[1].stop()
        pair[0].stop()


@pytest.fixture(scope="module")
def live_fake_api(_live_pair: tuple[FakeAnthropic, LiveApp]) -> FakeAnthropic:
    return _live_pair[0]


@pytest.fixture(scope="module")
def live_app(_live_pair: tuple[FakeAnthropic, LiveApp]) -> LiveApp:
    return _live_pair[1].wait_ready()


@pytest.fixture(scope="session")
def embedded_model() -> Iterator[EmbeddedModel]:
    model = EmbeddedModel().start()
    try:
        yield model
    finally:
        model.stop()


@pytest.fixture(scope="module")
def live_app_embedded(embedded_model: EmbeddedModel) -> Iterator[LiveApp]:
    # Neither ANTHROPIC_* variable: the app uses the embedded model. A short max_tokens keeps a
    # chatty small model from rambling for seconds; it does not change the first-token time.
    app = LiveApp(
        {
            "CHAT_LOCAL_MODEL_URL": embedded_model.url,
            "CHAT_LOCAL_MODEL_KEY_FILE": str(embedded_model.key_file),
            "CHAT_MAX_TOKENS": "200",
        }
    ).start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


ASSISTANT = "[data-role=assistant]"


def send_message(page, text: str, *, click: bool = False, timeout: float = 30_000):
    """Type `text` in the composer and send it (Enter, or the Send button with `click`); return
    the new reply's element once it is in the page, found by its id.

    Never wait on `[data-role=assistant]` `.last` (or `nth(-1)`) right after a send: until the
    new turn is swapped in, that is the previous reply, which may well be complete already. The
    replies are counted before the send, and the one to follow is the one after them."""
    from playwright.sync_api import expect

    replies = page.locator(ASSISTANT)
    before = replies.count()
    composer = page.get_by_role("textbox", name="Message")
    composer.fill(text)
    if click:
        page.get_by_role("button", name="Send").click()
    else:
        composer.press("Enter")
    expect(replies).to_have_count(before + 1, timeout=timeout)
    return page.locator(f"#{replies.nth(before).get_attribute('id')}")


def open_new_chat(page) -> None:
    """Click New chat and wait until chat.js has set up the composer: Enter typed (or a file
    picked) before that would be lost, as it would for a person on a slow link. A navigation,
    not wait_for_url: signing in lands on /new/, which that would match before the click."""
    with page.expect_navigation(url="**/new/"):  # waits for the new page's load event
        page.get_by_role("link", name="New chat", exact=True).click()
