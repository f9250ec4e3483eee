"""Test fakes for external services."""

from tests.fakes.fake_anthropic import (
    Cut,
    FakeAnthropic,
    HttpError,
    RecordedRequest,
    Reply,
    ReplyLog,
    Script,
    SSEError,
    Stall,
    split_chunks,
)

__all__ = [
    "Cut",
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
