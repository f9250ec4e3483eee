"""`python -m bench`: parse the options, run, print the table, write the JSON."""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from bench import procs
from bench.config import Config
from bench.harness import Run
from bench.report import render
from bench.server import SERVERS, UVICORN_WS

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


def _procs(value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("--procs takes counts like 2 or 1,2") from exc
    if not counts or any(k < 1 for k in counts):
        raise argparse.ArgumentTypeError("process counts must be positive")
    return counts


def _servers(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names or any(n not in SERVERS for n in names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError("--server takes daphne, uvicorn or both: daphne,uvicorn")
    return names


def _cpus(text: str) -> list[int]:
    """A taskset CPU list: "1", "0,2", "2-3"."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        try:
            cpus.update(range(int(low), int(high or low) + 1))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not a CPU list: {text!r}") from exc
    return sorted(cpus)


def pin_spec(value: str) -> tuple[list[int], list[int]]:
    """--pin: "1" (the servers' CPUs; the harness gets the others), or "server=1,harness=0"; each
    list as taskset writes it ("2-3", "2,3": a bare number after key=... belongs to that key)."""
    lists: dict[str, list[str]] = {"server": [], "harness": []}
    key = "server"
    for part in (p.strip() for p in value.split(",") if p.strip()):
        if "=" in part:
            key, _, part = part.partition("=")
            if key not in lists:
                raise argparse.ArgumentTypeError(f"--pin names server= and harness=, not {key}=")
        lists[key].append(part)
    server, harness = (_cpus(",".join(lists[k])) if lists[k] else [] for k in ("server", "harness"))
    usable = sorted(os.sched_getaffinity(0))
    harness = harness or [c for c in usable if c not in server]
    if not server or not harness:
        raise argparse.ArgumentTypeError("--pin needs a CPU for the servers and another for the harness")
    if set(server) & set(harness) or not set(server + harness) <= set(usable):
        raise argparse.ArgumentTypeError(f"--pin: CPUs must not overlap and must be among {usable}")
    return server, harness


def parse(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the chat's streaming pipeline: daphne (or uvicorn), fake Messages API, "
        "websocket clients.",
    )
    parser.add_argument(
        "--streams",
        type=_streams,
        default=None,
        help="concurrent streams per burst phase, e.g. 1,10 (default 1,10,100,500; none with --arrivals "
        "poisson or --page; 'none' to skip)",
    )
    parser.add_argument(
        "--tokens", type=int, default=None, help="tokens per reply (default 200; 400 with --arrivals poisson)"
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="tokens per second per stream (default 20; 50 with poisson)"
    )
    deltas = parser.add_mutually_exclusive_group()
    deltas.add_argument(
        "--words",
        dest="words",
        action="store_true",
        default=None,
        help="deltas of 1-4 tokens, as the real API sends them (default with --arrivals poisson)",
    )
    deltas.add_argument(
        "--token-deltas", dest="words", action="store_false", help="one token per delta (the burst default)"
    )
    parser.add_argument(
        "--send-via",
        choices=("ws", "post"),
        default=None,
        help="how a client sends: over its conversation's websocket (default, the composer's path) or by "
        "POST /c/<id>/send/ (the fallback; forced by --placement cross)",
    )
    parser.add_argument(
        "--arrivals",
        choices=("burst", "poisson"),
        default="burst",
        help="burst: each phase's N sends at once (default); poisson: sends at --rps for --duration seconds",
    )
    parser.add_argument(
        "--rps",
        type=float,
        default=0.0,
        help="Poisson: sends per second (default 2; the starting point of --capacity)",
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="Poisson: seconds of arrivals (default 30)"
    )
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="Poisson: search the largest rate (doubling, then bisecting) whose first token from Send p99 "
        "and lag per delta p99 stay within the limits; print the capacity line",
    )
    parser.add_argument("--capacity-first-token-ms", type=float, default=250.0)
    parser.add_argument("--capacity-lag-ms", type=float, default=150.0)
    parser.add_argument("--capacity-trials", type=int, default=10, help="at most this many Poisson runs")
    parser.add_argument(
        "--capacity-precision",
        type=float,
        default=0.15,
        help="stop when the failing rate is within this fraction of the passing one (default 0.15)",
    )
    parser.add_argument(
        "--procs",
        type=_procs,
        default=None,
        help="server processes on Redis, e.g. 2; a list (1,2) runs everything once per count (default 1)",
    )
    parser.add_argument(
        "--placement",
        choices=("local", "cross"),
        default=None,
        help="with --procs > 1: local (default): each client's socket is on the process that generates its "
        "reply; cross: send by POST through one process, watch on the next",
    )
    parser.add_argument(
        "--send-cpu",
        type=int,
        default=None,
        metavar="N",
        help="a sends-only burst of N sends whose replies the fake holds, for the CPU per send (default 20 "
        "when --streams runs; 0 to skip)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL URL: the run creates (and drops) a database <name>_bench_<pid> next to it "
        "(default: SQLite in the run's data dir, shared by every process)",
    )
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
        help="shorthand for --procs 2 --placement cross (send on one process, watch on the other)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--no-baseline", action="store_true", help="skip the direct-SDK baseline")
    parser.add_argument(
        "--baseline-http",
        choices=["aiohttp", "httpx"],
        default="aiohttp",
        help="the baseline SDK's HTTP client: aiohttp (the app's, the default) or httpx (the SDK's default)",
    )
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
        help="per stream, from its send's answer (default 30 s + 50 ms per stream)",
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
        help="record the server with this py-spy during the largest burst phase (or a single Poisson run)",
    )
    parser.add_argument(
        "--py-spy-gil",
        action="store_true",
        help="with --py-spy: only the thread holding the GIL (one waiting for it looks busy otherwise)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the app's processes, e.g. CHAT_FRAME_INTERVAL=0.05 (the app's own CHAT_* "
        "variables are not passed through); repeatable",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON path (default bench/results/<timestamp>.json)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir (DB, server logs)")
    parser.add_argument(
        "--server-switch-interval",
        type=float,
        default=0.0,
        metavar="S",
        help="experiment: run the server with sys.setswitchinterval(S) (default: unchanged)",
    )
    parser.add_argument(
        "--server",
        type=_servers,
        default=["daphne"],
        help="the ASGI server: daphne (default, the app's), uvicorn (with --uvicorn-ws), or "
        "daphne,uvicorn: every round once per server, one after the other, both in the table",
    )
    parser.add_argument(
        "--uvicorn-ws",
        choices=UVICORN_WS,
        default="websockets",
        help="uvicorn's websocket implementation (default websockets; websockets-sansio is uvicorn's own "
        "default)",
    )
    parser.add_argument(
        "--pin",
        type=pin_spec,
        nargs="?",
        const="1",
        default=None,
        metavar="CPUS",
        help="pin the servers and the baseline SDK to these CPUs (taskset -c) and the harness (clients, "
        "fake API) to the others: --pin (= 1), --pin 1, --pin server=1,harness=0, --pin server=2-3,harness=0",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="on a shared machine: before each phase, wait up to S seconds until other processes use "
        "less than --quiet-cores of CPU (default 0: don't wait)",
    )
    parser.add_argument("--quiet-cores", type=float, default=0.15)
    parser.add_argument("--note", default="", help="free text stored in the JSON (e.g. what was measured)")
    parser.add_argument(
        "--raw", action="store_true", help="also store every stream's frame and delta times in the JSON"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    a = parser.parse_args(argv)
    poisson = a.arrivals == "poisson"
    if a.capacity and not poisson:
        parser.error("--capacity needs --arrivals poisson")
    if any("=" not in setting for setting in a.server_env):
        parser.error("--server-env takes NAME=VALUE")
    procs_list = a.procs or ([2] if a.redis else [1])
    placement = a.placement or ("cross" if a.redis else "local")
    if placement == "cross" and max(procs_list) < 2:
        parser.error("--placement cross needs --procs 2 or more")
    if placement == "cross" and a.send_via == "ws":
        parser.error("--placement cross sends by POST (a socket's sends go to its own process)")
    if a.streams is not None:
        streams = a.streams
    else:
        streams = [] if (a.page or poisson) else [1, 10, 100, 500]
    send_cpu = a.send_cpu if a.send_cpu is not None else (20 if streams else 0)
    return Config(
        streams=streams,
        tokens=a.tokens if a.tokens is not None else (400 if poisson else 200),
        rate=a.rate if a.rate is not None else (50.0 if poisson else 20.0),
        words=a.words if a.words is not None else poisson,
        send_via=a.send_via or "ws",
        arrivals=a.arrivals,
        rps=a.rps,
        duration=a.duration,
        capacity=a.capacity,
        capacity_first_token_ms=a.capacity_first_token_ms,
        capacity_lag_ms=a.capacity_lag_ms,
        capacity_precision=a.capacity_precision,
        capacity_trials=a.capacity_trials,
        procs=procs_list,
        placement=placement,
        send_cpu=send_cpu,
        database_url=a.database_url,
        page=a.page,
        page_messages=a.page_messages,
        page_requests=a.page_requests,
        slow_clients=a.slow_clients,
        redis_url=a.redis_url,
        baseline=not a.no_baseline,
        baseline_http=a.baseline_http,
        probe=not a.no_probe,
        ramp=a.ramp,
        first_frame_timeout=a.first_frame_timeout,
        stream_timeout=a.stream_timeout,
        py_spy=a.py_spy,
        py_spy_gil=a.py_spy_gil,
        server_env=tuple(a.server_env),
        keep=a.keep,
        raw=a.raw,
        note=a.note,
        server_switch_interval=a.server_switch_interval,
        servers=a.server,
        uvicorn_ws=a.uvicorn_ws,
        pin_server=a.pin[0] if a.pin else [],
        pin_harness=a.pin[1] if a.pin else [],
        wait_quiet=a.wait_quiet,
        quiet_cores=a.quiet_cores,
        out=a.out,
        quiet=a.quiet,
    )


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    procs.raise_open_files_limit()
    if cfg.pin_server:
        procs.taskset(cfg.pin_server)  # fails now, not after the set-up, when taskset is missing
        # Before the fake API's thread and any worker thread start: they inherit it.
        procs.pin_self(cfg.pin_harness)
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
                print(f"--- {server.kind} {server.name} log (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        run.cleanup()
    out = cfg.out or RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nJSON: {out}")
    return 0
