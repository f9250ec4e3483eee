"""Run the app under daphne or uvicorn, in this process, with the benchmark's counters installed.

    python -m bench.server --parent-pid PID --host 127.0.0.1 --port 8123                     # daphne
    python -m bench.server --server uvicorn --uvicorn-ws websockets --host 127.0.0.1 --port 8123

The application is always `bench.serverapp:application` (the app's `chatsite.asgi:application`
plus counters). daphne runs through its own command line (anything after `--` is added to it);
uvicorn through `uvicorn.run` with one process, asyncio's loop, h11, the chosen websocket
implementation (`websockets`, the issue's; `websockets-sansio` is uvicorn's own default), no
lifespan (Channels' router has none) and daphne's timeouts where uvicorn's differ (idle keep-alive
60 s, as Twisted's; ping timeout 30 s). Neither negotiates permessage-deflate (the clients do not
offer it). With `--parent-pid`, the process asks the kernel to send it SIGTERM when the harness
dies, so a killed harness never leaves a server behind. On SIGTERM both shut down by themselves
(uvicorn waits at most 5 s for open connections); the harness kills what is left after 10 s.
"""

import argparse
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
SERVERS = ("daphne", "uvicorn")
UVICORN_WS = ("websockets", "websockets-sansio")
APPLICATION = "bench.serverapp:application"


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        sys.exit(1)


def _daphne(host: str, port: int, extra: list[str]) -> None:
    # Imported here: daphne installs Twisted's asyncio reactor on import, before Django loads.
    from daphne.cli import CommandLineInterface

    address = ["-b", host, "-p", str(port)] if port else []
    CommandLineInterface().run([*address, *extra, APPLICATION])


def _uvicorn(host: str, port: int, ws: str) -> None:
    import warnings

    import uvicorn

    # uvicorn 0.55 deprecates its legacy `websockets` protocol (bench/README says so); not in every log.
    warnings.filterwarnings("ignore", message="The `websockets` implementation is deprecated")

    uvicorn.run(
        APPLICATION,
        host=host,
        port=port,
        workers=None,
        loop="asyncio",
        http="h11",
        ws=ws,
        ws_per_message_deflate=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=30.0,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=60,
        timeout_graceful_shutdown=5,
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    daphne_args = []
    if "--" in argv:
        split = argv.index("--")
        argv, daphne_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--server", choices=SERVERS, default="daphne")
    parser.add_argument("--uvicorn-ws", choices=UVICORN_WS, default="websockets")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default: daphne's own (-p after --) or 8000")
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=0.0,
        help="experiment: sys.setswitchinterval() for the server (default: Python's 5 ms)",
    )
    options = parser.parse_args(argv)
    if options.parent_pid:
        _die_with_parent(options.parent_pid)
    if options.switch_interval:
        sys.setswitchinterval(options.switch_interval)
    if options.server == "uvicorn":
        if daphne_args:
            parser.error("arguments after -- are daphne's; uvicorn takes none")
        _uvicorn(options.host, options.port or 8000, options.uvicorn_ws)
    else:
        _daphne(options.host, options.port, daphne_args)


if __name__ == "__main__":
    main()
