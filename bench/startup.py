"""How fast the app starts: `manage.py check`, and `make run` until the login page answers.

    .venv/bin/python -m bench.startup              # 5 of each
    .venv/bin/python -m bench.startup --runs 3
    .venv/bin/python -m bench.startup --api        # as with an API configured: no embedded model

Everything runs in a temporary data dir (CHAT_DATA_DIR) with `make run`'s defaults: no API
configured (so the embedded model starts too, on a free port), SQLite, no Redis, DEBUG on. The
first `make run` sets the data dir up (migrations, the first admin) and is reported apart; the
others are a set-up clone, the case the target is about. Each `make run` is timed from the
command to the first 200 on /accounts/login/, then stopped with Ctrl-C (SIGINT to its process
group, as a terminal does). The time until the embedded model answers is reported beside it.

Medians, with each run's figures and the load average (the target assumes a quiet machine).
`manage.py check` also reports the CPU it used, which a busy machine inflates far less.
"""

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from bench.procs import ROOT, free_port

SERVE_TIMEOUT = 120.0


def environment(data_dir: str, model_port: int, api: bool) -> dict[str, str]:
    """make run's defaults, in `data_dir`: whatever this shell configured is left out. With `api`,
    an API endpoint (never called) instead of the embedded model."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CHAT_", "ANTHROPIC_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(CHAT_DATA_DIR=data_dir, CHAT_LOCAL_MODEL_URL=f"http://127.0.0.1:{model_port}")
    if api:
        env.update(ANTHROPIC_BASE_URL="http://127.0.0.1:9", ANTHROPIC_API_KEY="bench")
    return env


def time_check(env: dict[str, str]) -> tuple[float, float]:
    """One `manage.py check`: its wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def time_make_run(env: dict[str, str], model_url: str | None) -> tuple[float, float | None]:
    """One `make run`: seconds to the first 200 on the login page, and until the embedded model at
    `model_url` answered (None without one, or if it had not within SERVE_TIMEOUT), then stopped as
    Ctrl-C stops it."""
    port = free_port()
    login = f"http://127.0.0.1:{port}/accounts/login/"
    started = time.perf_counter()
    make = subprocess.Popen(
        ["make", "run", f"ARGS=--port {port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        served = model = None
        while served is None or (model_url and model is None):
            now = time.perf_counter() - started
            if make.poll() is not None or now > SERVE_TIMEOUT:
                break
            if served is None and answers(login):
                served = now
            if model_url and model is None and answers(f"{model_url}/health"):
                model = now
            time.sleep(0.02)
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    if served is None:
        raise RuntimeError(f"make run did not serve {login} within {SERVE_TIMEOUT:.0f} s")
    return served, model


def report_checks(env: dict[str, str], runs: int) -> None:
    checks = [time_check(env) for _ in range(runs)]
    wall, cpu = (statistics.median(column) for column in zip(*checks, strict=True))
    print(f"manage.py check: median {wall:.2f} s ({cpu:.2f} s CPU)")
    print("  each, wall/CPU: " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in checks))


def report_make_runs(env: dict[str, str], model_url: str | None, runs: int) -> None:
    timings = [time_make_run(env, model_url) for _ in range(runs)]
    served = [s for s, _ in timings]
    model = [m for _, m in timings if m is not None]
    print(f"make run, set-up clone: served in median {statistics.median(served):.2f} s")
    print("  each: " + ", ".join(f"{s:.2f}" for s in served))
    if model:
        print(f"  the embedded model answered after median {statistics.median(model):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--api", action="store_true", help="an API configured: no embedded model")
    options = parser.parse_args()
    runs = options.runs
    model_port = free_port()
    model_url = None if options.api else f"http://127.0.0.1:{model_port}"
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as data_dir:
        env = environment(data_dir, model_port, options.api)
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        fresh, _ = time_make_run(env, model_url)
        print(f"make run, fresh data dir (migrations, first admin): served in {fresh:.2f} s")
        report_checks(env, runs)
        report_make_runs(env, model_url, runs)
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
