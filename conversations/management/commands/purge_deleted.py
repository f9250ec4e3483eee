from django.core.management.base import BaseCommand

from conversations.organising import UNDO_SECONDS, deleted_conversations_purge


class Command(BaseCommand):
    help = (
        f"Delete for good the conversations deleted more than {UNDO_SECONDS} s ago, and files only they used."
    )

    def handle(self, *args, **options):
        purged = deleted_conversations_purge()
        if options["verbosity"]:
            self.stdout.write(f"Purged {purged} deleted conversation(s).")
