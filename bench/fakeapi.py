"""The fake Messages API, scripted by the text of the request.

Every benchmark message says what reply it wants: ``bench <tag> <tokens> <rate>``. The server
answers it with a deterministic reply of exactly ``tokens`` deltas, paced at ``rate`` deltas per
second, under the request id ``req_bench_<tag>``; so each client finds its reply's log
(`ReplyLog.delta_times`, `.text_sent`) by id, however many streams run at once. Anything else gets
the fake's usual echo.
"""

import random
import re

from tests.fakes import FakeAnthropic, Reply
from tests.fakes.fake_anthropic import last_user_text

_REQUEST_RE = re.compile(r"bench (\S+) (\d+) ([\d.]+)")

_WORDS = (
    "the stream of tokens arrives one delta at a time and the server coalesces them into frames "
    "every tab watching the conversation gets the same frame sequence number and text "
    "naïve café déjà-vu — “quoted” 日本語 テキスト emoji 🙂 ∑ λ→μ"
).split()

_CODE = [
    "\n\n```python\ndef ",
    "total(values):\n",
    "    result ",
    "= ",
    "0\n",
    "    for ",
    "value ",
    "in ",
    "values:\n",
    "        result ",
    "+= ",
    "value  ",
    "# <b>not html</b>\n",
    "    return ",
    "result\n",
    "```\n\n",
]


PERIOD = 50


def request_text(tag: str, tokens: int, rate: float) -> str:
    """The user message that asks the fake for this reply."""
    return f"bench {tag} {tokens} {rate:g}"


def reply_chunks(tag: str, tokens: int) -> list[str]:
    """Exactly `tokens` text deltas, the same mix at any length: every 50 deltas are 34 of prose
    (words, punctuation, paragraph breaks, non-ASCII), then a 16-delta fenced code block."""
    rng = random.Random(tag)
    chunks = [f"[{tag}] "]
    while len(chunks) < tokens:
        if len(chunks) % PERIOD == PERIOD - len(_CODE):
            chunks += _CODE
            continue
        word = rng.choice(_WORDS)
        end = rng.random()
        sep = ".\n\n" if end < 0.03 else (", " if end < 0.1 else " ")
        chunks.append(word + sep)
    return chunks[:tokens]


class BenchFake(FakeAnthropic):
    """FakeAnthropic whose reply is chosen by the request's text instead of a FIFO queue."""

    def _next_script(self, body):  # the fake's hook that picks a reply for a request
        match = _REQUEST_RE.search(last_user_text(body))
        if match is None:
            return super()._next_script(body)
        tag, tokens, rate = match.group(1), int(match.group(2)), float(match.group(3))
        return Reply(
            chunks=reply_chunks(tag, tokens),
            tokens_per_second=rate or None,
            request_id=f"req_bench_{tag}",
        )


if not hasattr(FakeAnthropic, "_next_script"):  # pragma: no cover - guards against a fake refactor
    raise ImportError("tests.fakes.FakeAnthropic no longer has _next_script(); update bench/fakeapi.py")
