import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from conversations import local_model


class Command(BaseCommand):
    help = "Serve the embedded local model (SmolLM2-135M) at CHAT_LOCAL_MODEL_URL, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.CHAT_LOCAL_MODEL_URL)

    def handle(self, *args, url: str, **options):
        if local_model.is_up(url):
            self.stdout.write(f"A local model already answers at {url}.")
            return
        server = local_model.serve(url)  # noqa: F841 (it stops when collected)
        self.stdout.write(f"Local model serving at {url}. Ctrl-C stops it.", ending="\n")
        self.stdout.flush()
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        done.wait()
