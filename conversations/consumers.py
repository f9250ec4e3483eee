"""The conversation websocket: server->browser frames, plus `stop` and `resync` controls."""

import asyncio
import logging
from typing import Literal

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from pydantic import BaseModel, ConfigDict, ValidationError

from . import generation, realtime, selectors
from .models import Message

log = logging.getLogger(__name__)

# Frames a tab has not read yet. Past this, its outbox is dropped and it is told to resync, so a
# slow tab costs bounded memory and never holds back the others.
OUTBOX_LIMIT = 1000
NOT_FOUND = 4404


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["stop", "resync"]
    message: int


class ConversationConsumer(AsyncWebsocketConsumer):
    conversation_id: int
    outbox: asyncio.Queue
    writer: asyncio.Task | None = None

    async def connect(self) -> None:
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        conversation = await sync_to_async(selectors.conversation_for_user)(
            self.scope["user"], self.conversation_id
        )
        await self.accept()
        if conversation is None:
            # Same answer for "not yours" and "does not exist".
            await self.close(code=NOT_FOUND)
            return
        self.outbox = asyncio.Queue()
        self.writer = asyncio.create_task(self._write_frames())
        realtime.subscribe(self.conversation_id, self)
        generation.ensure_sweeper()  # also starts this process's listener for other workers' frames

    async def disconnect(self, code: int) -> None:
        if self.writer is not None:
            realtime.unsubscribe(self.conversation_id, self)
            self.writer.cancel()

    async def dispatch(self, message: dict) -> None:
        # A snapshot from another worker touches no database: skip the base class's thread hop
        # (aclose_old_connections) that it makes for every message.
        if message["type"] == "stream.frame":
            await self.stream_frame(message)
        else:
            await super().dispatch(message)

    async def stream_frame(self, event: dict) -> None:
        self.push(event["frame"])

    def push(self, frame: str) -> None:
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            while not self.outbox.empty():
                self.outbox.get_nowait()
            frame = realtime.encode(["r"])
        self.outbox.put_nowait(frame)

    async def _write_frames(self) -> None:
        while True:
            await self.send(text_data=await self.outbox.get())

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.writer is None:
            return
        try:
            control = Control.model_validate_json(text_data or "")
        except ValidationError:
            self.push(realtime.encode(["x", "Unknown or malformed control frame."]))
            return
        live = realtime.live_reply(control.message, self.conversation_id)
        if live is not None and control.type == "stop":
            live.stop()
        elif live is not None:
            self.push(realtime.encode(live.snapshot()))
        elif realtime.cross_process() and await self._streaming_elsewhere(control.message):
            await realtime.ask_workers(control.type, control.message, self.conversation_id, self.channel_name)
        elif control.type == "stop":
            self.push(realtime.encode(["x", "That reply is not streaming."]))
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
            self.push(realtime.encode(["x", "No such reply in this conversation."]))
        else:
            self.push(realtime.encode(["e", message_id, 0, html]))

    def _render_stored(self, message_id: int) -> str | None:
        message = selectors.message_for_user(self.scope["user"], message_id)
        if message is None or message.conversation_id != self.conversation_id:
            return None
        return generation.message_html(message)
