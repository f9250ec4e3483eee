"""Versions of a turn: a conversation's messages form a tree, and the page shows one branch of it.

Each message follows its parent (a first message has none). Editing a message or regenerating a
reply adds a sibling: another version of that turn. At each message the chosen branch goes on
through the child chosen last (`chosen_at`, the later id on a tie), so switching back to a version
brings back the later messages that were shown under it. Where a message sits (the end of its
branch or not) also decides what it offers: Edit, Retry, Continue, Regenerate (`offered`).

Pure (standard library only): it works on (id, parent_id, chosen_at) rows, read in one query.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

Row = tuple[int, int | None, datetime]


@dataclass(frozen=True)
class Versions:
    """Where a message sits among the versions of its turn (its siblings, oldest first)."""

    position: int  # 1-based
    count: int
    previous: int | None  # the sibling before it, if any
    next: int | None  # the sibling after it, if any


class Tree:
    """The rows it was given, as parents and children; rows may be a part of a conversation."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.parent: dict[int, int | None] = {}
        self.chosen_at: dict[int, datetime] = {}
        self.children: dict[int | None, list[int]] = {}
        for message_id, parent_id, chosen_at in sorted(rows, key=lambda row: row[0]):
            self.parent[message_id] = parent_id
            self.chosen_at[message_id] = chosen_at
            self.children.setdefault(parent_id, []).append(message_id)

    def chosen_child(self, message_id: int | None) -> int | None:
        """The child the branch goes on through (None: the first message); None at a leaf."""
        children = self.children.get(message_id)
        if not children:
            return None
        return max(children, key=lambda child: (self.chosen_at[child], child))

    def path(self) -> list[int]:
        """The chosen branch, first message to last."""
        path = []
        node = self.chosen_child(None)
        while node is not None:
            path.append(node)
            node = self.chosen_child(node)
        return path

    def ancestors(self, message_id: int) -> list[int]:
        """The messages `message_id` follows, first to last (itself left out)."""
        chain = []
        node = self.parent.get(message_id)
        while node is not None and len(chain) <= len(self.parent):  # the bound: never loop forever
            chain.append(node)
            node = self.parent.get(node)
        return chain[::-1]

    def is_leaf(self, message_id: int) -> bool:
        return not self.children.get(message_id)

    def versions(self, message_id: int) -> Versions | None:
        """Its place among its siblings; None when it is the only version of its turn."""
        siblings = self.children[self.parent[message_id]]
        if len(siblings) < 2:
            return None
        i = siblings.index(message_id)
        return Versions(
            position=i + 1,
            count=len(siblings),
            previous=siblings[i - 1] if i > 0 else None,
            next=siblings[i + 1] if i + 1 < len(siblings) else None,
        )

    def choice_time(self, now: datetime) -> datetime:
        """A `chosen_at` later than every one in the tree, even if another worker's clock is ahead."""
        latest = max(self.chosen_at.values(), default=None)
        return now if latest is None or now > latest else latest + timedelta(microseconds=1)


@dataclass(frozen=True)
class Actions:
    """What a message offers: the buttons the page shows under it, and what the services accept."""

    can_edit: bool = False
    can_retry: bool = False
    can_continue: bool = False
    can_regenerate: bool = False


def offered(*, role: str, status: str, stop_reason: str, is_leaf: bool) -> Actions:
    """The one rule. A user's message can be edited (a new version of it). A reply that failed,
    stopped or was interrupted at the end of its branch is retried in place; any other finished
    reply is regenerated (a new version). A complete reply cut off at its length limit, at the end
    of its branch, can be continued. A reply still streaming offers nothing."""
    if role == "user":
        return Actions(can_edit=True)
    if status == "streaming":
        return Actions()
    retry = status != "complete" and is_leaf
    return Actions(
        can_retry=retry,
        can_continue=status == "complete" and stop_reason == "max_tokens" and is_leaf,
        can_regenerate=not retry,
    )
