"""Fakes of external services on the real wire, shared by the tests and the benchmark."""

from fakes.fake_anthropic import FakeAnthropic
from fakes.scripts import Cut, HttpError, Reply, Script, SSEError, Stall, split_chunks
from fakes.server_tools import Cited, Code, EditFile, Fetch, GroundedReply, Output, Search
from fakes.wire import RecordedRequest, ReplyLog

__all__ = [
    "Cited",
    "Code",
    "Cut",
    "EditFile",
    "Fetch",
    "GroundedReply",
    "Output",
    "Search",
    "FakeAnthropic",
    "HttpError",
    "RecordedRequest",
    "Reply",
    "ReplyLog",
    "SSEError",
    "Script",
    "Stall",
    "split_chunks",
]
