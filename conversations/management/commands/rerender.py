"""`manage.py rerender`: stored HTML that an older renderer made, rendered again in bounded batches."""

from django.core.management.base import BaseCommand, CommandError

from conversations import rendering, services


class Command(BaseCommand):
    help = "Render again the stored HTML of replies' text blocks that an older renderer made."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Blocks per batch (default 500)")

    def handle(self, *args, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        count = services.blocks_rerender(batch_size=batch_size)
        version = rendering.RENDERER_VERSION
        self.stdout.write(f"Rendered {count} block(s) again with renderer version {version}.")
