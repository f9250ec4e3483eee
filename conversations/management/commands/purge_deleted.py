import asyncio

from django.core.management.base import BaseCommand

from conversations.claude import llm
from conversations.claude.attachment_files import remote_deletions_run
from conversations.library.organising import UNDO_SECONDS, deleted_conversations_purge


class Command(BaseCommand):
    help = (
        f"Delete for good the conversations deleted more than {UNDO_SECONDS} s ago, and files only they "
        "used; then delete the files of deleted attachments from the Files API."
    )

    def handle(self, *args, **options):
        purged = deleted_conversations_purge()
        removed = asyncio.run(_delete_remote_files())
        if options["verbosity"]:
            self.stdout.write(f"Purged {purged} deleted conversation(s).")
            self.stdout.write(f"Deleted {removed} file(s) from the Files API.")


async def _delete_remote_files() -> int:
    try:
        return await remote_deletions_run()
    finally:
        await llm.close()
