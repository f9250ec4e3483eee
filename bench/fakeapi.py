"""The fake Messages API, scripted by the text of the request.

Every benchmark message says what reply it wants: ``bench <tag> <tokens> <rate> [words] [hold=S]``.
The server answers it with a deterministic reply of exactly ``tokens`` tokens, paced at ``rate``
tokens per second, under the request id ``req_bench_<tag>``; so each client finds its reply's log
(`ReplyLog.delta_times`, `.text_sent`) by id, however many streams run at once. Anything else gets
the fake's usual echo.

* Without ``words`` every text delta is one token (a word with its separator, or a piece of code):
  ``tokens`` deltas at ``rate`` deltas per second.
* With ``words`` the same token stream is grouped into deltas of 1-4 tokens (what the real API sends:
  a few words per event), paced evenly so the reply still lasts ``tokens / rate`` seconds.
* ``hold=S`` holds the HTTP request for up to S seconds before answering anything (no headers, no
  events), or until `BenchFake.release_held()`: the "fake that never answers", for measuring what a
  send costs the server without any streaming.
"""

import asyncio
import json
import random
import re
from dataclasses import dataclass

from fakes import FakeAnthropic, Reply, ReplyLog
from fakes.scripts import last_user_text

_REQUEST_RE = re.compile(r"bench (\S+) (\d+) ([\d.]+)((?: [a-z]+(?:=[\d.]+)?)*)")

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
MAX_WORDS_PER_DELTA = 4


@dataclass(frozen=True)
class BenchRequest:
    tag: str
    tokens: int
    rate: float
    words: bool = False
    hold: float = 0.0


def request_text(tag: str, tokens: int, rate: float, *, words: bool = False, hold: float = 0.0) -> str:
    """The user message that asks the fake for this reply."""
    text = f"bench {tag} {tokens} {rate:g}"
    if words:
        text += " words"
    if hold:
        text += f" hold={hold:g}"
    return text


def parse_request(text: str) -> BenchRequest | None:
    match = _REQUEST_RE.search(text)
    if match is None:
        return None
    flags = {}
    for item in match.group(4).split():
        name, _, value = item.partition("=")
        flags[name] = value
    return BenchRequest(
        tag=match.group(1),
        tokens=int(match.group(2)),
        rate=float(match.group(3)),
        words="words" in flags,
        hold=float(flags.get("hold") or 0),
    )


def _tokens(tag: str, tokens: int) -> list[str]:
    """Exactly `tokens` tokens, the same mix at any length: every 50 tokens are 34 of prose
    (words, punctuation, paragraph breaks, non-ASCII), then a 16-token fenced code block."""
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


def _groups(tag: str, tokens: int) -> list[int]:
    """Tokens per delta in `words` mode: 1-4 each, summing to `tokens` (deterministic per tag)."""
    rng = random.Random(f"{tag}/words")
    sizes, left = [], tokens
    while left > 0:
        size = min(left, rng.randint(1, MAX_WORDS_PER_DELTA))
        sizes.append(size)
        left -= size
    return sizes


def chunk_token_counts(tag: str, tokens: int, words: bool = False) -> list[int]:
    """How many tokens each delta of `reply_chunks(tag, tokens, words)` carries."""
    return _groups(tag, tokens) if words else [1] * tokens


def reply_chunks(tag: str, tokens: int, words: bool = False) -> list[str]:
    """The reply's text deltas, in order (one token each, or 1-4 tokens each with `words`)."""
    pieces = _tokens(tag, tokens)
    if not words:
        return pieces
    out, at = [], 0
    for size in _groups(tag, tokens):
        out.append("".join(pieces[at : at + size]))
        at += size
    return out


class BenchFake(FakeAnthropic):
    """FakeAnthropic whose reply is chosen by the request's text instead of a FIFO queue."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._release: asyncio.Event | None = None
        self.held = 0  # requests being held right now (hold=S)
        self.holds = 0  # requests ever held (they show in `requests` only once answered)

    def _next_script(self, body):  # the fake's hook that picks a reply for a request
        bench = parse_request(last_user_text(body))
        if bench is None:
            return super()._next_script(body)
        chunks = reply_chunks(bench.tag, bench.tokens, bench.words)
        rate = bench.rate
        if rate and bench.words and bench.tokens > 1 and len(chunks) > 1:
            # Deltas evenly spaced so that the reply lasts (tokens - 1) / rate seconds.
            rate = rate * (len(chunks) - 1) / (bench.tokens - 1)
        return Reply(
            chunks=chunks,
            tokens_per_second=rate or None,
            request_id=f"req_bench_{bench.tag}",
            output_tokens=bench.tokens,
        )

    async def _handle_messages(self, request):
        raw = await request.read()  # aiohttp keeps the body: the fake's own handler reads it again
        if b"hold=" in raw:
            try:
                bench = parse_request(last_user_text(json.loads(raw)))
            except ValueError:
                bench = None
            if bench is not None and bench.hold > 0:
                if self._release is None:
                    self._release = asyncio.Event()
                self.held += 1
                self.holds += 1
                try:
                    await asyncio.wait_for(self._release.wait(), bench.hold)
                except TimeoutError:
                    pass
                finally:
                    self.held -= 1
        return await super()._handle_messages(request)

    def logs(self) -> dict[str, ReplyLog]:
        """What the fake sent, by request id (of a copy: the server thread appends)."""
        return {r.request_id: r for r in list(self.replies)}

    def release_held(self) -> None:
        """Answer every held request now (thread-safe)."""

        def release() -> None:
            if self._release is not None:
                self._release.set()
                self._release = None

        self.loop_thread.call_soon(release)


if not hasattr(FakeAnthropic, "_next_script"):  # pragma: no cover - guards against a fake refactor
    raise ImportError("fakes.FakeAnthropic no longer has _next_script(); update bench/fakeapi.py")
