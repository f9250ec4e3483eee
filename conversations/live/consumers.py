"""The conversation websocket: frames to the browser; sends, `stop` and `resync` from it.

`/ws/c/<id>/` watches one of the user's conversations; `/ws/new/` is the new-chat page's socket,
which becomes the new conversation's socket once its first message (`start`) is accepted. A send
over the socket is the lean path (the socket is already authenticated and origin-checked); the
composer falls back to POST when the socket is down. Both go through `sending`.
"""

import asyncio
import logging
import time
from typing import Annotated, Literal

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections
from django.http import Http404
from django.urls import reverse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from conversations import rendering, selectors, sending
from conversations.claude.params import ToolChoice
from conversations.library import temporary
from conversations.live import metrics, realtime, relay, runtime
from conversations.models import Message
from conversations.reply import generation
from conversations.services import ChatError

log = logging.getLogger(__name__)

# Frames a tab has not read yet. Past this, its outbox is dropped and it is told to resync, so a
# slow tab costs bounded memory and never holds back the others.
OUTBOX_LIMIT = 1000
NOT_FOUND = 4404


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["stop", "resync"]
    message: int


class Send(BaseModel):
    """A message from the composer; `id` is the tab's own, echoed in the answer."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["send"]
    id: str = Field(max_length=64)
    text: str = ""
    attachments: list[int] = Field(default_factory=list, max_length=100)
    links: list[str] = Field(default_factory=list, max_length=100)  # checked by the send (turns.py)
    tools: ToolChoice | None = None  # the composer's switches, when it has them

    def command(self) -> sending.SendCommand:
        return sending.SendCommand(
            self.text, tuple(self.attachments), tools=self.tools, links=tuple(self.links)
        )


class Start(Send):
    """The first message of a new conversation, with what the new-chat page chose."""

    type: Literal["start"]
    model: str = Field(default="", max_length=100)
    prompt: int | None = None
    timezone: str = Field(default="", max_length=64)
    temporary: bool = False
    project: int | None = None  # a new chat in a project (projects/)

    def command(self) -> sending.SendCommand:
        return sending.SendCommand(
            self.text,
            tuple(self.attachments),
            model=self.model,
            prompt_id=self.prompt,
            timezone=self.timezone,
            tools=self.tools,
            temporary=self.temporary,
            links=tuple(self.links),
            project_id=self.project,
        )


Incoming = TypeAdapter(Annotated[Control | Send | Start, Field(discriminator="type")])


# Signed out or deactivated (not "not found"): the page says so and stops reconnecting.
ACCOUNT_CLOSED = 4401


class _OpenSockets:
    """This process's sockets by user (kept on the event loop's runtime); every
    CHAT_ACCOUNT_CHECK_INTERVAL one query finds the accounts deactivated (or deleted) since, and
    their sockets are closed."""

    @property
    def by_user(self) -> dict[int, set["ConversationConsumer"]]:
        return runtime.current().sockets

    def add(self, consumer: "ConversationConsumer") -> None:
        self.by_user.setdefault(consumer.scope["user"].pk, set()).add(consumer)
        runtime.current().ensure("account check", self._close_deactivated)

    def discard(self, consumer: "ConversationConsumer") -> None:
        sockets = self.by_user.get(consumer.scope["user"].pk, set())
        sockets.discard(consumer)
        if not sockets:
            self.by_user.pop(consumer.scope["user"].pk, None)

    async def _close_deactivated(self) -> None:
        """Also stops the replies running here for deactivated (or deleted) accounts."""
        while True:
            await asyncio.sleep(settings.CHAT_ACCOUNT_CHECK_INTERVAL)
            live_replies = runtime.current().live_replies
            users, running = list(self.by_user), list(live_replies)
            if not users and not running:
                continue
            try:
                active, doomed = await sync_to_async(_active_users)(users, running)
            except Exception:
                log.exception("could not check the accounts of open sockets")
                continue
            for message_id in doomed:
                if (reply := live_replies.get(message_id)) is not None:
                    reply.stop()
            for user_id in set(users) - active:
                for consumer in list(self.by_user.get(user_id, ())):
                    await consumer.close(code=ACCOUNT_CLOSED)


def _active_users(ids: list[int], running: list[int]) -> tuple[set[int], list[int]]:
    """Which of these users are active, and which of these running replies belong to no active one."""
    active = set(get_user_model().objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    if not running:
        return active, []
    owned = Message.objects.filter(pk__in=running, conversation__owner__is_active=True)
    return active, sorted(set(running) - set(owned.values_list("pk", flat=True)))


open_sockets = _OpenSockets()


class ConversationConsumer(AsyncWebsocketConsumer):
    # No channel of its own: frames from other processes come through this process's relay, so a
    # tab keeps working in-process when Redis is down.
    channel_layer_alias = "none"
    conversation_id: int | None = None
    temporary = False  # its conversation is a Temporary chat: closing the last tab leaves it
    outbox: asyncio.Queue
    writer: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope["user"]
        wanted = self.scope["url_route"]["kwargs"].get("conversation_id")
        await self.accept()
        if not user.is_authenticated:
            await self.close(code=ACCOUNT_CLOSED)
            return
        conversation = None
        if wanted is not None:
            conversation = await sync_to_async(selectors.conversation_for_user)(user, wanted)
        if wanted is not None and conversation is None:
            # Same answer for "not yours" and "does not exist".
            await self.close(code=NOT_FOUND)
            return
        self.outbox = asyncio.Queue()
        self.writer = asyncio.create_task(self._write_frames())
        open_sockets.add(self)
        if conversation is not None:
            self._watch(conversation.pk)
            if conversation.temporary:
                self.temporary = True
                await sync_to_async(temporary.conversation_returned)(conversation.pk)
        generation.ensure_sweeper()  # also starts this process's listener for other workers' frames

    def _watch(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        realtime.subscribe(conversation_id, self)

    async def disconnect(self, code: int) -> None:
        if self.writer is not None:
            open_sockets.discard(self)
            if self.conversation_id is not None:
                realtime.unsubscribe(self.conversation_id, self)
                if self.temporary and self.conversation_id not in realtime.watched():
                    await sync_to_async(temporary.conversation_left)(self.conversation_id)
            self.writer.cancel()

    async def dispatch(self, message: dict) -> None:
        # Skip the base class's thread hop (aclose_old_connections) for every frame received: a
        # send closes old connections in its own hop.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    def push(self, frame: str) -> None:
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            while not self.outbox.empty():
                self.outbox.get_nowait()
            frame = realtime.encode(realtime.RESYNC_FRAME)
        self.outbox.put_nowait(frame)

    async def _write_frames(self) -> None:
        while True:
            await self.send(text_data=await self.outbox.get())

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.writer is None:
            return
        try:
            frame = Incoming.validate_json(text_data or "")
        except ValidationError:
            self._refuse("Unknown or malformed control frame.")
            return
        if isinstance(frame, Send):
            await self._send(frame)
        elif self.conversation_id is None:
            self._refuse("No such reply in this conversation.")
        else:
            await self._control(frame)

    async def _send(self, frame: Send) -> None:
        """Validate and commit in one thread hop, answer with the turn, then start the reply here."""
        received = time.perf_counter()
        try:
            sent, run = await sync_to_async(self._commit_send)(frame)
        except (ChatError, Http404) as exc:
            # The same words the POST path shows (a 404 names what was not found).
            reason = str(exc) if isinstance(exc, ChatError) else f"{exc}."
            self.push(realtime.encode(realtime.send_refused_frame(frame.id, reason)))
            return
        conversation = sent.conversation
        if isinstance(frame, Start):
            self._watch(conversation.pk)
            self.temporary = conversation.temporary
        url = reverse("conversation", args=[conversation.pk])
        accepted = realtime.send_accepted_frame(frame.id, sent.html, conversation.pk, url, conversation.title)
        self.push(realtime.encode(accepted))
        metrics.send_handled(time.perf_counter() - received, "websocket")
        generation.start(sent.reply, received_at=received, run=run)

    def _commit_send(self, frame: Send) -> tuple[sending.Sent, generation.ReplyRun | None]:
        """The send, and its reply made ready to start (generation.prepare), in one thread hop."""
        close_old_connections()
        user = self.scope["user"]
        if isinstance(frame, Start):
            if self.conversation_id is not None:
                raise ChatError("This conversation has already started.")
            sent = sending.conversation_post(user=user, command=frame.command())
        elif self.conversation_id is None:
            raise ChatError("Start the conversation first.")
        else:
            sent = sending.message_post(
                user=user, conversation_id=self.conversation_id, command=frame.command()
            )
        return sent, generation.prepare(sent.reply)

    async def _control(self, control: Control) -> None:
        live = realtime.live_reply(control.message, self.conversation_id)
        if live is not None and control.type == "stop":
            live.stop()
        elif live is not None:
            self.push(realtime.encode(live.snapshot()))
        elif realtime.cross_process() and await self._streaming_elsewhere(control.message):
            if not await relay.ask_workers(control.type, control.message, self.conversation_id):
                self._refuse("Live updates from other servers are unavailable right now.")
        elif control.type == "stop":
            self._refuse("That reply is not streaming.")
        else:
            await self._send_final(control.message)

    async def _streaming_elsewhere(self, message_id: int) -> bool:
        return await Message.objects.filter(
            pk=message_id, conversation_id=self.conversation_id, status=Message.Status.STREAMING
        ).aexists()

    async def _send_final(self, message_id: int) -> None:
        """A reply that is no longer streaming here: its stored state, as an end frame."""
        html = await sync_to_async(self._render_stored)(message_id)
        if html is None:
            self._refuse("No such reply in this conversation.")
        else:
            self.push(realtime.encode(realtime.end_frame(message_id, 0, html)))

    def _refuse(self, reason: str) -> None:
        self.push(realtime.encode(realtime.refusal_frame(reason)))

    def _render_stored(self, message_id: int) -> str | None:
        message = selectors.message_for_user(self.scope["user"], message_id)
        if message is None or message.conversation_id != self.conversation_id:
            return None
        return rendering.message_html(selectors.with_versions(message))
