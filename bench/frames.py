"""A reply as a tab sees it, built from its frames by chat.js's rules: seq check, gap -> resync, snapshots."""

import re
from collections import Counter
from dataclasses import dataclass, field

_STATUS_RE = re.compile(r'data-status="(\w+)"')


@dataclass
class ReplyView:
    """One reply as the tab sees it."""

    message_id: int
    last_seq: int = 0  # the POST's partial renders the reply with data-seq="0"
    awaiting_snapshot: bool = False
    parts: list[str] = field(default_factory=list)
    length: int = 0
    # (arrival, cumulative text length after this frame) for each applied "d" frame
    deltas: list[tuple[float, int]] = field(default_factory=list)
    # (arrival, cumulative length before, after) for each applied "d" frame
    spans: list[tuple[float, int, int]] = field(default_factory=list)
    first_frame_at: float | None = None
    ended_at: float | None = None
    final_status: str = ""
    final_html: str = ""
    frames: Counter = field(default_factory=Counter)
    bytes_by_kind: Counter = field(default_factory=Counter)
    ignored: int = 0  # frames already covered (seq <= last)
    gaps: int = 0
    snapshots: int = 0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def bytes(self) -> int:
        return sum(self.bytes_by_kind.values())

    def apply(self, now: float, size: int, frame: list) -> bool:
        """Apply one of this reply's frames (`d`, `s`, `e`, ...); True when a gap calls for a resync."""
        kind = frame[0]
        self.frames[kind] += 1
        self.bytes_by_kind[kind] += size
        if self.first_frame_at is None:
            self.first_frame_at = now
        seq = frame[2]
        if kind == "e":
            self.ended_at = now
            self.final_html = frame[3]
            status = _STATUS_RE.search(frame[3])
            self.final_status = status.group(1) if status else "?"
            return False
        if kind == "s":
            self.snapshots += 1
            self.parts = ["".join(block[2] for block in frame[3] if block[0] == "text")]
            self.length = len(self.parts[0])
            self.last_seq = seq
            self.awaiting_snapshot = False
            return False
        if self.awaiting_snapshot:
            return False
        if seq <= self.last_seq:
            self.ignored += 1
            return False
        if seq != self.last_seq + 1:
            self.gaps += 1
            return True
        self.last_seq = seq
        if kind == "d":
            self.parts.append(frame[3])
            start = self.length
            self.length += len(frame[3])
            self.deltas.append((now, self.length))
            self.spans.append((now, start, self.length))
        return False
