"""The baseline: the same fake API consumed directly by the SDK, N streams at once, in a process of
its own (so its CPU is its own, as the app's is daphne's).

    python -m bench.baseline --base-url URL --prefix b10 --streams 10 --tokens 200 --rate 20

Iterates `AsyncAnthropic().messages.create(stream=True)` events, as conversations/llm.py does (with
its HTTP client, the SDK's aiohttp one, unless `--http httpx`: the SDK's default), and
starts stream i after `offsets[i]` seconds (`--offsets`: the harness passes the moments the app's
own requests reached the fake, so both face the same arrival pattern). It
prints one JSON object: per stream the request id, the arrival time (time.monotonic(), a
system-wide clock on Linux, the same one the fake stamps deltas with) and the text of each text
delta; plus the process CPU spent between the first request and the last event.

`measure` is the harness's side: it starts this process beside a phase and reads its output
against what the fake sent.
"""

import argparse
import asyncio
import ctypes
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import anthropic

from bench import procs
from bench.clients import BenchError
from bench.config import Phase
from bench.fakeapi import BenchFake, chunk_token_counts, request_text
from bench.metrics import lost_and_duplicated, summary
from fakes.scripts import last_user_text

_TAG_RE = re.compile(r"^bench (\S+) ")


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
    http: str = "aiohttp",
) -> dict:
    http_client = (
        anthropic.DefaultAioHttpClient() if http == "aiohttp" else anthropic.DefaultAsyncHttpxClient()
    )
    client = anthropic.AsyncAnthropic(
        base_url=base_url, api_key="bench", max_retries=0, http_client=http_client
    )
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
    return {"cpu_s": cpu, "wall_s": wall, "cpus": sorted(os.sched_getaffinity(0)), "streams": results}


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
    parser.add_argument("--http", choices=["aiohttp", "httpx"], default="aiohttp")
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
            options.http,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


def upstream_offsets(fake: BenchFake, phase: Phase) -> list[float]:
    """When the app's request for each stream of this phase reached the fake, from the first one."""
    arrivals: dict[str, float] = {}
    for request in list(fake.requests):
        if request.path == "/v1/messages":
            match = _TAG_RE.search(last_user_text(request.body))
            if match and match.group(1).startswith(f"{phase.key}-"):
                arrivals[match.group(1)] = request.at
    if not arrivals:
        return []
    first = min(arrivals.values())
    return [round(arrivals.get(f"{phase.key}-{i}", first) - first, 4) for i in range(phase.n)]


async def measure(
    phase: Phase, fake: BenchFake, data_dir: Path, cpus: list[int] | None = None, http: str = "aiohttp"
) -> dict:
    """Run this baseline beside a phase (its streams started as the app's reached the fake); its figures.
    With `cpus` (--pin), on the server's CPUs (taskset), so that both face the same core."""
    prefix = f"b-{phase.key}"
    offsets_file = data_dir / f"offsets-{phase.key}.json"
    offsets = upstream_offsets(fake, phase)
    offsets_file.write_text(json.dumps(offsets))
    proc = await asyncio.create_subprocess_exec(
        *procs.taskset(cpus),
        sys.executable,
        "-m",
        "bench.baseline",
        "--base-url",
        fake.base_url,
        "--prefix",
        prefix,
        "--streams",
        str(phase.n),
        "--tokens",
        str(phase.tokens),
        "--rate",
        str(phase.rate),
        "--offsets",
        str(offsets_file),
        "--parent-pid",
        str(os.getpid()),
        *(["--words"] if phase.words else []),
        "--http",
        http,
        cwd=procs.ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await proc.communicate()
    except BaseException:
        if proc.returncode is None:
            proc.kill()
        raise
    if proc.returncode != 0:
        raise BenchError(f"baseline failed: {err.decode()[-3000:]}")
    data = json.loads(out)
    logs = fake.logs()
    first_token, lags = [], []
    tokens = lost = duplicated = 0
    errors = 0
    for stream in data["streams"]:
        entry = logs.get(stream.get("request_id", ""))
        if stream["error"] or entry is None:
            errors += 1
            continue
        tokens += sum(chunk_token_counts(stream["tag"], phase.tokens, phase.words)[: len(entry.delta_times)])
        if stream["times"] and entry.first_delta_at is not None:
            first_token.append((stream["times"][0] - entry.first_delta_at) * 1000)
        lags += [(t - e) * 1000 for t, e in zip(stream["times"], entry.delta_times, strict=False)]
        lc, dc = lost_and_duplicated(entry.text_sent, "".join(stream["texts"]))
        lost, duplicated = lost + lc, duplicated + dc
    return {
        "streams": phase.n,
        "start_spread_s": max(offsets) if offsets else 0.0,
        "errors": errors,
        "first_token_ms": summary(first_token),
        "delivery_lag_ms": summary(lags),
        "cpu_s": data["cpu_s"],
        "cpus": data.get("cpus"),  # the CPUs it ran on (--pin: the server's)
        "tokens": tokens,
        "cpu_s_per_1k_tokens": data["cpu_s"] / (tokens / 1000) if tokens else None,
        "lost_chars": lost,
        "duplicated_chars": duplicated,
    }


if __name__ == "__main__":
    main()
