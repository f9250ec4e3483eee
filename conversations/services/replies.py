"""The reply store: what a streaming reply writes (generation.py calls these): each block at its
stop, checkpoints of the open block, the files its code made, the final write with usage and cost;
messages' token counts (context_window.py); other API calls' usage; and replies orphaned by a
process that died."""

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import PurePosixPath

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone as dj_timezone

from conversations import rendering, selectors
from conversations.budgets import spend_record
from conversations.claude import pricing
from conversations.live import metrics
from conversations.models import ApiCall, ContentBlock, Conversation, Message, ProducedFile
from conversations.services.approvals import approvals_close

log = logging.getLogger(__name__)


def block_save(*, message_id: int, index: int, payload: dict, rendered: str | None = None) -> str:
    """Store one content block (insert, or replace a checkpointed partial). Returns its rendered
    markdown; `rendered` is that HTML when the stream has rendered it already."""
    with transaction.atomic():
        rendered = _store_block(message_id, index, payload, rendered)
    metrics.DB_WRITES.labels("block").inc()
    return rendered


def _store_block(message_id: int, index: int, payload: dict, rendered: str | None = None) -> str:
    if rendered is None:
        rendered = rendering.render_markdown_blocks(payload["text"]) if payload["type"] == "text" else ""
    _put_block(message_id, index, payload, rendered=rendered, rendered_version=rendering.RENDERER_VERSION)
    return rendered


def _put_block(message_id: int, index: int, payload: dict, **extra) -> None:
    """One UPDATE, or an INSERT the first time (no SELECT first: this runs every checkpoint)."""
    fields = {"type": payload["type"], "payload": payload, **extra}
    if not ContentBlock.objects.filter(message_id=message_id, index=index).update(**fields):
        ContentBlock.objects.create(message_id=message_id, index=index, **fields)


def replies_checkpoint(*, message_ids: list[int], partial: list[tuple[int, int, dict]], worker: str) -> None:
    """Every reply streaming here says this worker is alive, and each open block that changed
    since the last checkpoint (message id, index, payload) keeps its partial text: one transaction
    and one heartbeat UPDATE for all of them, so running streams' writes do not queue reply starts.
    If that fails (a reply deleted meanwhile), each reply is written on its own, so one cannot
    cost the others their heartbeats."""
    try:
        _checkpoint(message_ids, partial, worker)
    except DatabaseError:
        if len(message_ids) == 1:
            raise
        for message_id in message_ids:
            try:
                _checkpoint([message_id], [p for p in partial if p[0] == message_id], worker)
            except DatabaseError:
                log.warning("checkpoint of reply %s failed", message_id, exc_info=True)
    metrics.DB_WRITES.labels("checkpoint").inc()


def _checkpoint(message_ids: list[int], partial: list[tuple[int, int, dict]], worker: str) -> None:
    with transaction.atomic():
        for message_id, index, payload in partial:
            _put_block(message_id, index, payload)
        Message.objects.filter(pk__in=message_ids).update(heartbeat_at=dj_timezone.now(), worker=worker)


def produced_file_record(
    *, conversation_id: int, file_id: str, name: str, mime_type: str, size: int | None
) -> ProducedFile:
    """A file code execution made (sandbox.py), named as the Files API names it; once per file."""
    produced, _ = ProducedFile.objects.get_or_create(
        conversation_id=conversation_id,
        file_id=file_id[:200],
        defaults={
            "filename": (PurePosixPath(name).name or file_id)[:255],
            "mime_type": mime_type[:100],
            "size_bytes": size,
        },
    )
    return produced


def message_token_count_set(*, message_id: int, token_count: int) -> None:
    """A message's size in tokens, counted once (context_window.py) and kept for later requests."""
    Message.objects.filter(pk=message_id).update(token_count=token_count)


@dataclass
class ReplyOutcome:
    """How a reply ended, as its final write stores it (the cost is priced from `usage` there)."""

    status: str = Message.Status.COMPLETE
    error: str = ""
    stop_reason: str = ""
    stop_sequence: str = ""
    trimmed: int = 0  # oldest messages left out to fit the context window
    cleared_tool_uses: int = 0  # old tool results the API cleared from its requests (compaction.py)
    request_id: str = ""
    usage: pricing.Usage = field(default_factory=pricing.Usage)
    cited_documents: list[int] = field(default_factory=list)  # what citations' document_index counts
    container: tuple[str, datetime] | None = None  # code execution's sandbox: (id, expires_at)
    connector_errors: list[str] = field(default_factory=list)  # "<title>: <why>", each left out

    def add_usage(self, counts: dict[str, int]) -> None:
        """Add one API call's token counts (a tool loop makes several calls)."""
        self.usage = self.usage.plus(counts)


def reply_finish(*, message_id: int, open_blocks: dict[int, dict], outcome: ReplyOutcome) -> Message:
    """The final write: status, usage, cost, stop reason; plus any block that never reached its stop."""
    with transaction.atomic():
        for index, payload in open_blocks.items():
            _store_block(message_id, index, payload)
        model, user_id, team_id, conversation_id, options = Message.objects.values_list(
            "model",
            "conversation__owner_id",
            "conversation__prompt_version__prompt__team_id",
            "conversation_id",
            "options",
        ).get(pk=message_id)
        money = _money(model, outcome.usage)
        noted = _noted(options, outcome)
        Message.objects.filter(pk=message_id).update(
            status=outcome.status,
            error=outcome.error,
            stop_reason=outcome.stop_reason,
            stop_sequence=outcome.stop_sequence,
            trimmed=outcome.trimmed,
            request_id=outcome.request_id,
            cited_documents=outcome.cited_documents,
            worker="",
            **money,
            **noted,
            **asdict(outcome.usage),
        )
        if money["cost"]:
            spend_record(user_id=user_id, team_id=team_id, cost=money["cost"])
        if outcome.container:  # later requests reuse it (sandbox.py)
            container_id, expires_at = outcome.container
            Conversation.objects.filter(pk=conversation_id).update(
                container_id=container_id, container_expires_at=expires_at
            )
        approvals_close(message_id=message_id)  # a question left unanswered is a no
    metrics.DB_WRITES.labels("final").inc()
    return Message.objects.select_related("conversation").get(pk=message_id)


def _noted(options: dict | None, outcome: ReplyOutcome) -> dict:
    """What the page says under the reply (_message.html), kept in its options: older tool results
    cleared, connectors it went on without (claude/mcp.py)."""
    noted = {"cleared_tool_uses": outcome.cleared_tool_uses, "connector_errors": outcome.connector_errors}
    noted = {name: value for name, value in noted.items() if value}
    return {"options": {**(options or {}), **noted}} if noted else {}


def api_call_record(
    *,
    kind: ApiCall.Kind,
    model: str,
    usage: pricing.Usage,
    user_id: int,
    team_id: int | None,
    conversation_id: int | None = None,
    request_id: str = "",
    batch: bool = False,
) -> ApiCall:
    """A request that is not a reply (a title: overhead of its conversation), stored with its usage
    and cost, and its cost added to the budgets that pay for it, as a reply's final write does.
    A request sent in a Message Batch (`batch`) costs the batch rate (pricing.BATCH_RATE)."""
    money = _money(model, usage, pricing.BATCH_RATE if batch else 1)
    with transaction.atomic():
        if conversation_id and not Conversation.objects.filter(pk=conversation_id).exists():
            conversation_id = None  # purged while the call was out: the money still counts
        call = ApiCall.objects.create(
            kind=kind,
            model=model,
            user_id=user_id,
            team_id=team_id,
            conversation_id=conversation_id,
            request_id=request_id,
            **money,
            **asdict(usage),
        )
        if money["cost"]:
            spend_record(user_id=user_id, team_id=team_id, cost=money["cost"])
    return call


def _money(model: str, usage: pricing.Usage, rate: Decimal | int = 1) -> dict:
    """A request's cost and what caching saved, at the model's price now (times `rate`: a batch's
    discount); None when it has none."""
    price = selectors.price_for_model(model)
    if price is None:
        return {"cost": None, "cache_savings": None}
    return {
        "cost": pricing.cost(usage, price) * rate,
        "cache_savings": pricing.cache_savings(usage, price) * rate,
    }


def orphaned_replies_interrupt() -> int:
    """Replies left `streaming` by a process that died become `interrupted`; their text stays."""
    stale = dj_timezone.now() - timedelta(seconds=settings.CHAT_ORPHAN_AFTER)
    return Message.objects.filter(status=Message.Status.STREAMING, heartbeat_at__lt=stale).update(
        status=Message.Status.INTERRUPTED,
        error="The server stopped while this reply was streaming.",
    )
