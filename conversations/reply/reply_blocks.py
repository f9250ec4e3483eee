"""A streaming reply's content blocks: API-shaped blocks grown from the SDK's events, the frames
that show them, and their HTML (while open, and once stored at their stop)."""

import json

import jiter
from asgiref.sync import sync_to_async

from conversations import blocks, rendering, services
from conversations.claude import citations, sandbox
from conversations.live import realtime
from conversations.models import ContentBlock


class ReplyBlocks:
    def __init__(self, message_id: int, frames: realtime.FrameWriter) -> None:
        self.message_id = message_id
        self.frames = frames
        self.blocks: dict[int, dict] = {}  # index -> API-shaped block, growing
        self.html: dict[int, str] = {}  # index -> the block as the page shows it, once stored
        self.sources = citations.Sources()  # the reply's cited sources, numbered as they appear
        self.tool_json: dict[int, str] = {}  # index -> a tool call's input JSON so far
        self.code: dict[int, str] = {}  # index -> a code execution call's code so far, decoded
        self.live: dict[int, rendering.LiveMarkdown] = {}  # index -> an open text block's markdown
        self.open_index: int | None = None
        self.dirty = False  # the open block changed since the last checkpoint

    def load(self, stored: list[ContentBlock]) -> None:
        """The blocks a reply already has (a Continue resumes after them)."""
        for block in stored:
            self.blocks[block.index] = block.payload
            self.html[block.index] = rendering.block_html(block, self.sources)

    def in_order(self) -> list[dict]:
        return [self.blocks[i] for i in sorted(self.blocks)]

    def snapshot(self) -> list[list]:
        """[[block type, HTML, text so far], ...] for a tab that joins mid-stream; an open text
        block adds what its frames build on: [before, after, line, closed], its HTML around the
        open line, that line's, and the closed markdown blocks' (which its stop frame leaves out)."""
        return [
            [block["type"], self.html.get(i) or self._open_html(i), self._text_of(i)]
            + (
                [live.before, live.after, live.line_html, live.html]
                if i not in self.html and (live := self.live.get(i))
                else []
            )
            for i, block in sorted(self.blocks.items())
        ]

    def unstored(self) -> dict[int, dict]:
        """Blocks that never reached their stop (the reply failed or was stopped mid-block)."""
        return {i: b for i, b in self.blocks.items() if i not in self.html}

    def checkpoint(self) -> tuple[int | None, dict | None]:
        """The open block, if it changed since the last checkpoint, to store as partial text."""
        index = self.open_index if self.dirty else None
        self.dirty = False
        return index, (dict(self.blocks[index]) if index is not None else None)

    def open(self, index: int, block: dict) -> None:
        streams = blocks.kind_of(block).streams
        if streams in ("input", "code"):
            block["input"] = {}
            self.tool_json[index] = ""
        if streams == "code":
            self.code[index] = ""
        if not block.get("citations"):  # a cited text block starts with []; citations_delta fills it
            block.pop("citations", None)
        self.blocks[index] = block
        self.open_index = index
        self.frames.block_started(index, block["type"], self._open_html(index))
        if block["type"] == "text":  # each text frame carries the open block, rendered
            live = self.live[index] = rendering.LiveMarkdown()
            self.frames.render_text = lambda: live.frame(block["text"])

    def delta(self, index: int, delta) -> None:
        block = self.blocks[index]
        kind = delta.type
        if kind == "text_delta":
            block["text"] += delta.text
            self.frames.text(delta.text)
        elif kind == "thinking_delta":
            block["thinking"] += delta.thinking
            self.frames.text(delta.thinking)
        elif kind == "citations_delta":  # kept exactly as sent: it is replayed in later turns
            block.setdefault("citations", []).append(delta.citation.to_dict(mode="json"))
        elif kind == "signature_delta":
            block["signature"] = delta.signature
        elif kind == "compaction_delta":  # the summary of the conversation so far (compaction.py)
            if delta.content is not None:
                block["content"] = (block.get("content") or "") + delta.content
            if delta.encrypted_content is not None:
                block["encrypted_content"] = delta.encrypted_content
        elif kind == "input_json_delta":
            self.tool_json[index] += delta.partial_json
            self.frames.text(self._code_delta(index) if index in self.code else delta.partial_json)
        self.dirty = True

    async def close(self, index: int) -> None:
        """Store the finished block (off the event loop), then swap its final HTML in."""
        self.frames.flush()
        self.frames.render_text = None
        block = self.blocks[index]
        self.code.pop(index, None)
        if index in self.tool_json:
            try:
                block["input"] = json.loads(self.tool_json.pop(index) or "{}")
            except json.JSONDecodeError:
                block["input"] = {}  # the tool then answers with an is_error result
        self.open_index = None
        self.dirty = False
        live = self.live.pop(index, None)
        rendered = live.finish(block["text"]) if live else None
        if blocks.code.file_ids(block):  # named before the block shows them
            await sandbox.record_files(self.frames.conversation_id, block)
        self.html[index] = await sync_to_async(_save)(
            self.message_id, index, dict(block), rendered, self.sources
        )
        self.frames.block_done(index, self.html[index], shown=live.html if live else "")

    def _code_delta(self, index: int) -> str:
        """The code (or command, or file text) a code execution call's JSON adds: people watch the
        code being written, not its JSON. Re-parsed whole each time; a call's input is small."""
        try:
            value = jiter.from_json(self.tool_json[index].encode(), partial_mode="trailing-strings")
        except ValueError:
            return ""
        value = value if isinstance(value, dict) else {}
        block = self.blocks[index]
        fields = blocks.kind_of(block).code_fields[block["name"]]
        code = next((value[f] for f in fields if isinstance(value.get(f), str)), "")
        shown = self.code[index]
        if not code.startswith(shown):
            return ""
        self.code[index] = code
        return code[len(shown) :]

    def _text_of(self, index: int) -> str:
        block = self.blocks[index]
        if index in self.code:
            return self.code[index]
        return block.get("text") or block.get("thinking") or self.tool_json.get(index, "")

    def _open_html(self, index: int) -> str:
        """A block still streaming, as the page shows it: a tool call's input is its JSON so far,
        a code execution call's is its code so far."""
        payload = self.blocks[index]
        if index in self.tool_json:
            payload = {**payload, "input": self.code.get(index, self.tool_json[index])}
        block = ContentBlock(index=index, type=payload["type"], payload=payload)
        block.streaming = True
        if live := self.live.get(index):  # as the last frame showed it
            block.rendered, block.tail = live.html, live.tail
        return rendering.block_html(block, self.sources)


def _save(message_id: int, index: int, payload: dict, rendered: str | None, sources) -> str:
    rendered = services.block_save(message_id=message_id, index=index, payload=payload, rendered=rendered)
    block = ContentBlock(
        message_id=message_id, index=index, type=payload["type"], payload=payload, rendered=rendered
    )
    return rendering.block_html(block, sources)
