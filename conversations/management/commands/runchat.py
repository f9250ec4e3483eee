import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations.claude import local_model


class Command(BaseCommand):
    help = "Serve the chat with daphne; with no API configured, start the embedded model first."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, bind: str, port: str, **options):
        model = None
        if settings.CHAT_USE_LOCAL_MODEL and not local_model.is_up(settings.CHAT_LOCAL_MODEL_URL):
            self.stdout.write(f"Starting the embedded model at {settings.CHAT_LOCAL_MODEL_URL} ...")
            model = subprocess.Popen([sys.executable, "manage.py", "localmodel"], stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 120
            while not local_model.is_up(settings.CHAT_LOCAL_MODEL_URL):
                if model.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(
                        "The embedded model did not start; run `manage.py localmodel` to see why."
                    )
                time.sleep(0.3)
        self.stdout.write(f"Chat at http://{bind}:{port}/ (Ctrl-C stops it)")
        # Retention (accounts app): scrubs what is past CHAT_RETENTION_DAYS now and every 24 hours.
        purge = subprocess.Popen([sys.executable, "manage.py", "purge", "--daily"])
        try:
            subprocess.call(
                [sys.executable, "-m", "daphne", "-b", bind, "-p", port, "chatsite.asgi:application"]
            )
        except KeyboardInterrupt:
            pass
        finally:
            purge.terminate()
            if model is not None:
                model.terminate()
                model.wait(timeout=10)
