"""The frame protocol and the in-process fan-out (conversations/live/realtime.py), without a socket:
frames as the page reads them, a reply's frames counted and coalesced by its FrameWriter, tabs and
the relay told what they need, and a live reply found only through its own conversation."""

import json

import pytest

from conversations.live import realtime, runtime
from tests.helpers import eventually

REPLY, CONVERSATION = 7, 3


class Tab:
    """A watching tab: the frames pushed to it, decoded."""

    def __init__(self) -> None:
        self.frames: list[list] = []

    def push(self, frame: str) -> None:
        self.frames.append(json.loads(frame))


class Relay:
    """The relay across processes, as realtime sees it: what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def put(self, conversation_id: int, text: str) -> None:
        self.calls.append(("put", conversation_id, text))

    def watch_soon(self, conversation_id: int) -> None:
        self.calls.append(("watch", conversation_id))

    def unwatch_soon(self, conversation_id: int) -> None:
        self.calls.append(("unwatch", conversation_id))


@pytest.fixture
async def tab() -> Tab:
    """A tab watching the conversation (on the test's event loop, whose runtime holds the tabs)."""
    tab = Tab()
    realtime.subscribe(CONVERSATION, tab)
    return tab


def writer(settings, interval: float) -> realtime.FrameWriter:
    settings.CHAT_FRAME_INTERVAL = interval
    return realtime.FrameWriter(CONVERSATION, REPLY)


# --- frames ------------------------------------------------------------------------------------


def test_a_frame_is_compact_json_that_keeps_non_ascii_text():
    assert realtime.encode(["d", 7, 1, 'héllo ☃ "q"']) == '["d",7,1,"héllo ☃ \\"q\\""]'


def test_each_frame_puts_its_fields_where_the_page_reads_them():
    assert realtime.end_frame(7, 9, "<div>") == ["e", 7, 9, "<div>"]
    accepted = realtime.send_accepted_frame("s1", "<li>", 3, "/c/3/", "Hi")
    assert accepted == ["a", "s1", "<li>", 3, "/c/3/", "Hi"]
    assert realtime.send_refused_frame("s1", "Too long") == ["n", "s1", "Too long"]
    assert realtime.title_frame(3, "Trip") == ["t", 3, "Trip"]
    assert realtime.refusal_frame("No such reply") == ["x", "No such reply"]
    assert realtime.RESYNC_FRAME == ["r"]


# --- one reply's frames ------------------------------------------------------------------------


async def test_a_replys_frames_count_up_from_one_in_the_order_they_happen(settings, tab):
    frames = writer(settings, 0)
    frames.block_started(0, "text", "<p></p>")
    frames.text("Hello")
    frames.render_text = lambda: ["<h1>Hi</h1>", "Hello you"]  # a text block: rendered per frame
    frames.text(" you")
    frames.block_done(0, "<p>Hello you</p>")
    frames.ended("<div>all</div>")
    assert tab.frames == [
        ["b", REPLY, 1, 0, "text", "<p></p>"],
        ["d", REPLY, 2, "Hello"],
        ["d", REPLY, 3, " you", "<h1>Hi</h1>", "Hello you"],
        ["c", REPLY, 4, 0, "<p>Hello you</p>"],
        ["e", REPLY, 5, "<div>all</div>"],
    ]


async def test_text_after_a_quiet_interval_goes_out_at_once(settings, tab):
    writer(settings, 60).text("First")
    assert tab.frames == [["d", REPLY, 1, "First"]]


async def test_text_faster_than_the_interval_waits_and_goes_out_as_one_frame_of_new_text(settings, tab):
    frames = writer(settings, 0.05)
    frames.text("a")
    frames.text("b")
    frames.text("c")
    assert tab.frames == [["d", REPLY, 1, "a"]]
    await eventually(lambda: len(tab.frames) == 2, what="the held text")
    assert tab.frames[1] == ["d", REPLY, 2, "bc"]


async def test_held_text_goes_out_before_a_block_boundary(settings, tab):
    frames = writer(settings, 60)
    frames.text("a")
    frames.text("b")
    frames.block_done(0, "<p>ab</p>")
    assert tab.frames == [["d", REPLY, 1, "a"], ["d", REPLY, 2, "b"], ["c", REPLY, 3, 0, "<p>ab</p>"]]


async def test_on_a_lagging_loop_even_text_after_a_quiet_interval_waits(settings, tab):
    runtime.current().lag = realtime.LAGGING * 2
    writer(settings, 0.05).text("a")
    assert tab.frames == []
    await eventually(lambda: tab.frames, what="the held text")
    assert tab.frames == [["d", REPLY, 1, "a"]]


async def test_a_snapshot_sends_held_text_first_and_live_frames_follow_its_seq(settings, tab):
    frames = writer(settings, 60)
    frames.text("a")
    frames.text("b")
    snapshot = frames.snapshot([["text", "<p>ab</p>", "ab"]])
    assert snapshot == ["s", REPLY, 2, [["text", "<p>ab</p>", "ab"]]]
    assert tab.frames[-1] == ["d", REPLY, 2, "b"]
    frames.ended("<div>ab</div>")
    assert tab.frames[-1][:3] == ["e", REPLY, 3]


# --- the tabs of this process, and the relay ---------------------------------------------------


async def test_a_frame_reaches_every_tab_on_its_conversation_and_no_other():
    one, two, elsewhere = Tab(), Tab(), Tab()
    realtime.subscribe(CONVERSATION, one)
    realtime.subscribe(CONVERSATION, two)
    realtime.subscribe(CONVERSATION + 1, elsewhere)
    realtime.publish(CONVERSATION, ["t", CONVERSATION, "Trip"])
    assert one.frames == two.frames == [["t", CONVERSATION, "Trip"]]
    assert elsewhere.frames == []
    assert sorted(realtime.watched()) == [CONVERSATION, CONVERSATION + 1]


async def test_a_tab_that_left_gets_nothing_more_and_its_conversation_is_no_longer_watched(tab):
    realtime.unsubscribe(CONVERSATION, tab)
    realtime.unsubscribe(CONVERSATION, tab)  # a socket may close twice
    realtime.publish(CONVERSATION, ["t", CONVERSATION, "Trip"])
    assert tab.frames == []
    assert realtime.watched() == []


async def test_the_relay_hears_of_the_first_tab_and_the_last_and_of_every_published_frame():
    relay = runtime.current().relay = Relay()
    one, two = Tab(), Tab()
    realtime.subscribe(CONVERSATION, one)
    realtime.subscribe(CONVERSATION, two)
    realtime.publish(CONVERSATION, ["t", CONVERSATION, "Trip"])
    realtime.unsubscribe(CONVERSATION, one)
    assert relay.calls == [("watch", CONVERSATION), ("put", CONVERSATION, '["t",3,"Trip"]')]
    realtime.unsubscribe(CONVERSATION, two)
    assert relay.calls[-1] == ("unwatch", CONVERSATION)


async def test_a_frame_from_another_process_reaches_the_tabs_here_and_is_not_sent_back(tab):
    relay = runtime.current().relay = Relay()
    realtime.deliver(CONVERSATION, '["t",3,"Trip"]')
    assert tab.frames == [["t", CONVERSATION, "Trip"]]
    assert relay.calls == []


# --- live replies ------------------------------------------------------------------------------


class LiveReply:
    conversation_id = CONVERSATION

    def snapshot(self) -> list:
        return []

    def stop(self) -> None:
        pass


async def test_a_live_reply_is_found_only_through_its_own_conversation_until_it_is_forgotten():
    reply = LiveReply()
    forget = realtime.register(REPLY, reply)
    assert realtime.live_reply(REPLY, CONVERSATION) is reply
    assert realtime.live_reply(REPLY, CONVERSATION + 1) is None  # someone else's conversation
    forget()
    assert realtime.live_reply(REPLY, CONVERSATION) is None
