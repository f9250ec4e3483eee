"""A phase's measurement window: the servers' counters at its start and end, and the samplers between."""

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.config import Phase, log
from bench.metrics import parse_exposition, summary
from bench.stack import Stack


async def snapshot(stack: Stack, reset: bool) -> dict:
    """Every server's counters, CPU and /metrics; at a window's start (reset) the CPU is read
    after the HTTP calls, at its end before them, so they stay outside the window."""
    servers = []
    for server in stack.servers:
        if reset:
            exposition = await asyncio.to_thread(server.metrics)
            stats = await asyncio.to_thread(server.stats, reset)
        user, system = server.cpu_times()
        main = server.main_thread_cpu()
        if not reset:
            stats = await asyncio.to_thread(server.stats, reset)
            exposition = await asyncio.to_thread(server.metrics)
        entry = {
            "cpu": user + system,
            "cpu_user": user,
            "cpu_sys": system,
            "cpu_main_thread": main,
            "stats": stats,
            "metrics": parse_exposition(exposition),
            **server.memory(),
        }
        if reset:
            procs.reset_peak_rss(server.pid)
            entry.update(server.memory())
        servers.append(entry)
    fake_thread = stack.fake.loop_thread.native_id
    return {
        "servers": servers,
        "harness_cpu": procs.proc_cpu_seconds(os.getpid()),
        "fake_cpu": procs.thread_cpu_seconds(os.getpid(), fake_thread) if fake_thread else 0.0,
        "machine_cpu": procs.machine_busy_seconds(),
        "time": time.monotonic(),
    }


@dataclass
class Window:
    """A measured phase's window besides its clients: the servers' counters at its start, py-spy,
    the harness's own event-loop lag and the servers' peak thread counts."""

    stack: Stack
    before: dict
    spy: tuple[subprocess.Popen, str] | None
    own_lag: list[float]
    ticker: asyncio.Task
    peak_threads: list[int]
    sampler: asyncio.Task
    spy_file: str = ""

    @classmethod
    async def open(cls, stack: Stack, phase: Phase) -> "Window":
        before = await snapshot(stack, reset=True)
        spy = start_py_spy(stack, phase)
        own_lag: list[float] = []
        peak_threads = [0] * len(stack.servers)
        ticker = asyncio.create_task(_tick(own_lag))
        sampler = asyncio.create_task(_sample_threads(stack, peak_threads))
        return cls(stack, before, spy, own_lag, ticker, peak_threads, sampler)

    async def close(self) -> dict:
        """Stop the window's samplers; the servers' counters at its end."""
        self.ticker.cancel()
        self.sampler.cancel()
        after = await snapshot(self.stack, reset=False)
        self.spy_file = stop_py_spy(self.spy)
        return after

    def record(self, result: dict) -> None:
        result["harness"]["loop_lag_ms"] = summary([lag * 1000 for lag in self.own_lag])
        for entry, threads in zip(result["server"]["processes"], self.peak_threads, strict=True):
            entry["peak_threads"] = threads
        result["server"]["peak_threads"] = max(self.peak_threads)
        if self.spy_file:
            result["py_spy"] = self.spy_file


def start_py_spy(stack: Stack, phase: Phase) -> tuple[subprocess.Popen, str] | None:
    """With --py-spy, for the phase chosen for it: a recording of the first server, and its file."""
    cfg = stack.cfg
    if not cfg.py_spy or not phase.spy:
        return None
    out_dir = cfg.out.parent if cfg.out else Path(__file__).parent / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = str(out_dir / f"py-spy-{time.strftime('%Y%m%d-%H%M%S')}-{phase.key}.txt")
    return procs.start_py_spy(cfg.py_spy, stack.servers[0].pid, path, cfg.py_spy_gil), path


def stop_py_spy(spy: tuple[subprocess.Popen, str] | None) -> str:
    if spy is None:
        return ""
    proc, path = spy
    procs.stop_py_spy(proc)
    return path


async def wait_quiet(stack: Stack) -> None:
    """On a shared machine: wait (up to --wait-quiet seconds) until the other processes use
    less than `quiet_cores` of CPU over a 2 s sample, so they do not skew the next phase."""
    cfg = stack.cfg
    if not cfg.wait_quiet:
        return
    deadline = time.monotonic() + cfg.wait_quiet
    mine = [os.getpid()] + [s.pid for s in stack.servers]
    waited = False
    while True:
        busy0, own0 = procs.machine_busy_seconds(), sum(procs.proc_cpu_seconds(p) for p in mine)
        await asyncio.sleep(2.0)
        busy1, own1 = procs.machine_busy_seconds(), sum(procs.proc_cpu_seconds(p) for p in mine)
        other = max(0.0, (busy1 - busy0) - (own1 - own0)) / 2.0
        if other < cfg.quiet_cores:
            if waited:
                log(cfg, f"  machine quiet (other processes {other:.2f} cores)")
            return
        if time.monotonic() > deadline:
            log(cfg, f"  machine still busy (other processes {other:.2f} cores); going ahead")
            return
        if not waited:
            log(cfg, f"  waiting for a quiet machine (other processes {other:.2f} cores)")
            waited = True


async def _tick(samples: list[float], interval: float = 0.01) -> None:
    """The harness's own event-loop lag: if it is high, frame arrival stamps are late too."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        samples.append(max(0.0, loop.time() - start - interval))


async def _sample_threads(stack: Stack, peaks: list[int]) -> None:
    while True:
        for i, server in enumerate(stack.servers):
            try:
                peaks[i] = max(peaks[i], server.memory()["threads"])
            except OSError:
                pass
        await asyncio.sleep(0.05)
