"""`python -m bench`: parse the options, run, print the table, write the JSON."""

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from bench import procs
from bench.harness import Config, Run
from bench.report import render

RESULTS = Path(__file__).resolve().parent / "results"


def _streams(value: str) -> list[int]:
    if value.strip().lower() in ("", "none", "0"):
        return []
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("--streams takes counts like 1,10,100") from exc
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError("stream counts must be positive")
    return counts


def parse(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the chat's streaming pipeline: daphne, fake Messages API, websocket clients.",
    )
    parser.add_argument(
        "--streams",
        type=_streams,
        default=None,
        help="concurrent streams per phase, e.g. 1,10 (default 1,10,100,500; 'none' to skip)",
    )
    parser.add_argument("--tokens", type=int, default=200, help="text deltas per reply (default 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="deltas per second per stream (default 20)")
    parser.add_argument(
        "--page",
        action="store_true",
        help="the conversation-page benchmark (alone, unless --streams is given too)",
    )
    parser.add_argument(
        "--page-messages",
        type=_streams,
        default=[10, 1000],
        help="conversation sizes for --page (default 10,1000)",
    )
    parser.add_argument("--page-requests", type=int, default=20, help="timed GETs per size (default 20)")
    parser.add_argument(
        "--slow-clients",
        type=int,
        default=0,
        metavar="K",
        help="K extra websockets per phase that never read",
    )
    parser.add_argument(
        "--redis",
        action="store_true",
        help="two daphne processes on the Redis channel layer; send on one, watch on the other",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--no-baseline", action="store_true", help="skip the direct-SDK baseline")
    parser.add_argument("--no-probe", action="store_true", help="skip the short-reply bytes probe")
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="spread the N sends over this many seconds (default 0: all at once)",
    )
    parser.add_argument(
        "--first-frame-timeout",
        type=float,
        default=None,
        help="per stream, from its POST's answer (default 30 s + 50 ms per stream)",
    )
    parser.add_argument(
        "--stream-timeout",
        type=float,
        default=None,
        help="per stream, after its first frame (default 3 x tokens/rate + 30 s)",
    )
    parser.add_argument(
        "--py-spy",
        default="",
        metavar="BIN",
        help="record the server with this py-spy during the largest phase",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON path (default bench/results/<timestamp>.json)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir (DB, daphne logs)")
    parser.add_argument(
        "--server-switch-interval",
        type=float,
        default=0.0,
        metavar="S",
        help="experiment: run daphne with sys.setswitchinterval(S) (default: unchanged)",
    )
    parser.add_argument("--note", default="", help="free text stored in the JSON (e.g. what was measured)")
    parser.add_argument(
        "--raw", action="store_true", help="also store every stream's frame and delta times in the JSON"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    a = parser.parse_args(argv)
    streams = a.streams if a.streams is not None else ([] if a.page else [1, 10, 100, 500])
    return Config(
        streams=streams,
        tokens=a.tokens,
        rate=a.rate,
        page=a.page,
        page_messages=a.page_messages,
        page_requests=a.page_requests,
        slow_clients=a.slow_clients,
        redis=a.redis,
        redis_url=a.redis_url,
        baseline=not a.no_baseline,
        probe=not a.no_probe,
        ramp=a.ramp,
        first_frame_timeout=a.first_frame_timeout,
        stream_timeout=a.stream_timeout,
        py_spy=a.py_spy,
        keep=a.keep,
        raw=a.raw,
        note=a.note,
        server_switch_interval=a.server_switch_interval,
        out=a.out,
        quiet=a.quiet,
    )


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    procs.raise_open_files_limit()
    # The fake API's thread stamps each delta right after writing it; if the clients' thread holds
    # the GIL then, the stamp is late by up to one switch interval (5 ms by default). 0.5 ms bounds it.
    sys.setswitchinterval(0.0005)
    signal.signal(signal.SIGTERM, _terminate)
    # Also when started in the background by a shell that ignores SIGINT for its background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run = Run(cfg)

    async def go() -> dict:
        try:
            return await run.run()
        finally:
            await run.close()

    try:
        results = asyncio.run(go())
    except KeyboardInterrupt:
        print("interrupted; stopping the processes this run started", file=sys.stderr)
        return 130
    except Exception:
        for server in run.servers:
            tail = server.log_tail()
            if tail:
                print(f"--- daphne {server.name} log (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        run.cleanup()
    out = cfg.out or RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nJSON: {out}")
    return 0
