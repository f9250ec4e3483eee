"""`manage.py runchat`, what `make run` runs: set up, then serve with daphne, with `manage.py purge
--daily` beside it and, when no API is configured, the embedded model.

Start-up is what a person waits for, so nothing waits that need not. The set-up steps (those of
`make setup`) run in this process, and so does daphne: each new interpreter would load Django
again (a second or so). The embedded model starts in its own process once the server listens
(EmbeddedModel), and the purge runs at a low priority.
"""

import contextlib
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from conversations.claude import local_model

MODEL_START_TIMEOUT = 120  # seconds
STATIC_IGNORE = ["CVS", ".*", "*~"]  # collectstatic's default ignore patterns


class Command(BaseCommand):
    help = (
        "Set up (as `make setup` does) and serve the chat with daphne; with no API configured, start "
        "the embedded model too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, bind: str, port: str, **options):
        with contextlib.ExitStack() as children, contextlib.suppress(KeyboardInterrupt):
            self._set_up()
            purge = _start_purge()
            model = EmbeddedModel(self) if self._model_wanted() else None
            # Stopped together, so a slow one does not add its wait to the other's.
            children.callback(lambda: _stop(purge, *([model.process] if model and model.process else [])))
            self.stdout.write(f"Chat at http://{bind}:{port}/ (Ctrl-C stops it)")
            _serve(bind, port, ready=model.start if model else None)

    def _set_up(self) -> None:
        """What `make setup` does, each step quick when it has nothing to do."""
        call_command("migrate", interactive=False, stdout=self.stdout)
        call_command("rerender", stdout=self.stdout)
        if not static_files_current():
            call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensure_admin", stdout=self.stdout)
        connections.close_all()  # the server's threads open their own

    def _model_wanted(self) -> bool:
        """No API configured, and no model answering already (another worker's)."""
        return settings.CHAT_USE_LOCAL_MODEL and not local_model.is_up(settings.CHAT_LOCAL_MODEL_URL)


class EmbeddedModel:
    """The embedded model's own process (`manage.py localmodel`), started once the server listens:
    loading it keeps both cores busy for seconds, which would hold the login page back. Until it
    answers, a reply says it could not reach the model; this says when it does."""

    def __init__(self, command: BaseCommand) -> None:
        self.command, self.url = command, settings.CHAT_LOCAL_MODEL_URL
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.command.stdout.write(f"Starting the embedded model at {self.url} ...")
        command = [sys.executable, "manage.py", "localmodel"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        threading.Thread(target=self._report, args=(self.process,), daemon=True).start()

    def _report(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + MODEL_START_TIMEOUT
        while not local_model.is_up(self.url):
            if process.poll() is not None or time.monotonic() > deadline:
                self.command.stderr.write("The embedded model did not start (run `manage.py localmodel`).")
                return
            time.sleep(0.3)
        self.command.stdout.write("The embedded model answers: replies can start.")


def static_files_current() -> bool:
    """Whether collectstatic has nothing to do: a manifest (DEBUG off) naming every source file,
    written after each was last changed. Hashing and compressing them all again takes over a
    second; without a manifest (DEBUG on) collecting is a quick copy of what changed."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return False
    manifest = Path(staticfiles_storage.manifest_storage.path(staticfiles_storage.manifest_name))
    if not manifest.exists():
        return False
    collected_at, known = manifest.stat().st_mtime_ns, staticfiles_storage.load_manifest()[0]
    for finder in finders.get_finders():
        for path, storage in finder.list(STATIC_IGNORE):
            name = os.path.join(storage.prefix, path) if getattr(storage, "prefix", None) else path
            if name not in known or os.stat(storage.path(path)).st_mtime_ns > collected_at:
                return False
    return True


def _serve(bind: str, port: str, ready: Callable[[], None] | None) -> None:
    """Daphne's own command line, in this process (Django is loaded already); `ready` is called
    once it listens."""
    from daphne.cli import CommandLineInterface  # installs Twisted's asyncio reactor
    from daphne.server import Server

    cli = CommandLineInterface()
    cli.server_class = functools.partial(Server, ready_callable=ready)
    cli.run(["-b", bind, "-p", port, "chatsite.asgi:application"])


def _start_purge() -> subprocess.Popen:
    """Retention (accounts app): scrubs what is past CHAT_RETENTION_DAYS now and every 24 hours. At a
    low priority: serving comes first."""
    return subprocess.Popen([sys.executable, "manage.py", "purge", "--daily"], preexec_fn=lambda: os.nice(10))


def _stop(*processes: subprocess.Popen) -> None:
    """Terminate them all at once; kill any still running 10 s later."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
