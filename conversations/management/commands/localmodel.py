import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations.claude import local_model


class Command(BaseCommand):
    requires_system_checks = []  # it serves llama.cpp, not Django: the URL checks would cost half a second
    help = (
        "Serve the embedded local model (SmolLM2-135M) at CHAT_LOCAL_MODEL_URL, in the foreground, "
        "on loopback, with a new key in CHAT_LOCAL_MODEL_KEY_FILE (see conversations/local_model.py)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.CHAT_LOCAL_MODEL_URL)
        parser.add_argument(
            "--allow-non-loopback",
            action="store_true",
            help="Listen on a non-loopback address (a container network whose workers share the "
            "key file); the key still guards every endpoint.",
        )

    def handle(self, *args, url: str, allow_non_loopback: bool, **options):
        if local_model.is_up(url):
            self.stdout.write(f"A local model already answers at {url}.")
            return
        try:
            # Kept in this frame: the server stops when collected.
            server = local_model.serve(url, allow_non_loopback=allow_non_loopback)  # noqa: F841
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Local model serving at {url}. Ctrl-C stops it.", ending="\n")
        self.stdout.flush()
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        done.wait()
