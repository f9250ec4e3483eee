"""Stored HTML brought up to date: text blocks whose HTML an older renderer made (their
`rendered_version` below rendering.RENDERER_VERSION) are rendered again, in bounded batches."""

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce

from conversations import rendering
from conversations.models import ContentBlock, Message


def blocks_rerender(*, batch_size: int = 500) -> int:
    """Render again every reply's text block made by an older renderer, `batch_size` at a time
    (each batch: one read, rendering outside any transaction, then one short write transaction).
    A block written meanwhile (a reply retried, a newer render) is left as it is. Returns how many
    were rendered again."""
    version = rendering.RENDERER_VERSION
    stale = (
        ContentBlock.objects.alias(made_by=Coalesce("rendered_version", Value(1)))  # null: version 1
        .filter(made_by__lt=version, type=ContentBlock.Type.TEXT, message__role=Message.Role.ASSISTANT)
        .exclude(rendered="")  # a checkpoint's partial text: its HTML is made at the block's stop
        .exclude(message__status=Message.Status.STREAMING)
        .order_by("pk")
        .only("pk", "payload", "rendered_version")
    )
    done, after = 0, 0
    while batch := list(stale.filter(pk__gt=after)[:batch_size]):
        fresh = [(block, rendering.render_markdown_blocks(block.payload["text"])) for block in batch]
        with transaction.atomic():
            for block, html in fresh:
                unchanged = ContentBlock.objects.filter(pk=block.pk, rendered_version=block.rendered_version)
                done += unchanged.update(rendered=html, rendered_version=version)
        after = batch[-1].pk
    return done
