"""The baseline: the same fake API consumed directly by the SDK, N streams at once, in a process of
its own (so its CPU is its own, as the app's is daphne's).

    python -m bench.baseline --base-url URL --prefix b10 --streams 10 --tokens 200 --rate 20

Iterates `AsyncAnthropic().messages.create(stream=True)` events, as conversations/llm.py does, and
starts stream i after `offsets[i]` seconds (`--offsets`: the harness passes the moments the app's
own requests reached the fake, so both face the same arrival pattern). It
prints one JSON object: per stream the request id, the arrival time (time.monotonic(), a
system-wide clock on Linux, the same one the fake stamps deltas with) and the text of each text
delta; plus the process CPU spent between the first request and the last event.
"""

import argparse
import asyncio
import ctypes
import json
import os
import signal
import sys
import time

import anthropic

from bench.fakeapi import request_text


async def _one(
    client: anthropic.AsyncAnthropic,
    tag: str,
    tokens: int,
    rate: float,
    timeout: float,
    delay: float = 0.0,
    words: bool = False,
) -> dict:
    out: dict = {"tag": tag, "times": [], "texts": [], "events": 0, "error": ""}
    if delay:
        await asyncio.sleep(delay)
    try:
        async with asyncio.timeout(timeout):
            stream = await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=4096,
                messages=[{"role": "user", "content": request_text(tag, tokens, rate, words=words)}],
                stream=True,
            )
            out["request_id"] = stream.response.headers.get("request-id", "")
            async for event in stream:
                out["events"] += 1
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    out["times"].append(time.monotonic())
                    out["texts"].append(event.delta.text)
    except (anthropic.APIError, TimeoutError) as exc:
        out["error"] = repr(exc)
    return out


async def run(
    base_url: str,
    prefix: str,
    streams: int,
    tokens: int,
    rate: float,
    timeout: float,
    offsets: list[float],
    words: bool = False,
) -> dict:
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key="bench", max_retries=0)
    # Warm-up: the SDK builds some models lazily on first use; the app's process is warm too.
    await _one(client, f"{prefix}-warmup", 3, 0, timeout)
    cpu0, wall0 = time.process_time(), time.monotonic()
    results = await asyncio.gather(
        *(
            _one(
                client, f"{prefix}-{i}", tokens, rate, timeout, offsets[i] if i < len(offsets) else 0.0, words
            )
            for i in range(streams)
        )
    )
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await client.close()
    return {"cpu_s": cpu, "wall_s": wall, "streams": results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--words", action="store_true", help="deltas of 1-4 tokens (bench/fakeapi.py)")
    parser.add_argument(
        "--offsets",
        default="",
        help="JSON file: seconds to wait before starting each stream (default all at once)",
    )
    parser.add_argument("--parent-pid", type=int, default=0)
    options = parser.parse_args(argv)
    if options.parent_pid:
        try:
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass
        if os.getppid() != options.parent_pid:
            sys.exit(1)
    offsets = json.loads(open(options.offsets).read()) if options.offsets else []
    result = asyncio.run(
        run(
            options.base_url,
            options.prefix,
            options.streams,
            options.tokens,
            options.rate,
            options.timeout,
            offsets,
            options.words,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
