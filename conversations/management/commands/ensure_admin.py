import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from conversations.services import orphaned_replies_interrupt


class Command(BaseCommand):
    help = "Create a first admin (printing its password) when none exists; recover orphaned replies."

    def handle(self, *args, **options):
        interrupted = orphaned_replies_interrupt()
        if interrupted:
            self.stdout.write(f"Marked {interrupted} reply(ies) left streaming as interrupted.")
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("Log in at http://127.0.0.1:8000/accounts/login/ with your admin account.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        self.stdout.write(
            "Created the first admin.\n"
            "  Log in at http://127.0.0.1:8000/accounts/login/\n"
            "  username: admin\n"
            f"  password: {password}\n"
            "Change it after logging in (Admin > Users)."
        )
