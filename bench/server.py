"""Run the app under daphne, in this process, with the benchmark's counters installed.

    python -m bench.server --parent-pid PID -- -b 127.0.0.1 -p 8123

Everything after `--` goes to daphne's own command line; the application is always
`bench.serverapp:application` (the app's `chatsite.asgi:application` plus counters). With
`--parent-pid`, the process asks the kernel to send it SIGTERM when the harness dies, so a killed
harness never leaves a server behind.
"""

import argparse
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    daphne_args = []
    if "--" in argv:
        split = argv.index("--")
        argv, daphne_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="python -m bench.server")
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

    # Imported here: daphne installs Twisted's asyncio reactor on import, before Django loads.
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run([*daphne_args, "bench.serverapp:application"])


if __name__ == "__main__":
    main()
