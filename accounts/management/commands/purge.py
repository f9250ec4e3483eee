import time

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.retention import BATCH, purge

DAY = 24 * 3600


class Command(BaseCommand):
    help = (
        "Scrub conversations older than the retention policy (CHAT_RETENTION_DAYS, stricter per team): "
        "their text and files go, their usage rows stay."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only report what would go")
        parser.add_argument("--batch", type=int, default=BATCH, help="conversations per transaction")
        parser.add_argument("--daily", action="store_true", help="run now and then every 24 hours")

    def handle(self, *args, dry_run: bool, batch: int, daily: bool, **options):
        while True:
            self._once(dry_run, batch)
            if not daily:
                return
            time.sleep(DAY)

    def _once(self, dry_run: bool, batch: int) -> None:
        started = time.perf_counter()
        report = purge(dry_run=dry_run, batch=batch)
        took = time.perf_counter() - started
        verb = "Would purge" if dry_run else "Purged"
        policy = f"{settings.CHAT_RETENTION_DAYS} days" if settings.CHAT_RETENTION_DAYS else "keep everything"
        self.stdout.write(
            f"{verb} {report.conversations} conversation(s), {report.messages} message(s), "
            f"{report.attachments} file(s) (instance policy: {policy}) in {took:.1f} s; "
            f"longest transaction {report.longest_batch * 1000:.0f} ms."
        )
