"""The benchmark run: processes, phases, measurements. `python -m bench --help` for the options."""

import asyncio
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import procs
from bench.clients import BenchError, Client, login, open_slow_socket
from bench.fakeapi import BenchFake, chunk_token_counts, reply_chunks, request_text
from bench.metrics import (
    delivery_lags,
    delta_lags,
    fit_line,
    histogram_delta,
    html_shows_text,
    lost_and_duplicated,
    metric_delta,
    parse_exposition,
    summary,
)
from fakes.scripts import last_user_text

_TAG_RE = re.compile(r"^bench (\S+) ")
POISSON_USERS = 100  # Poisson arrivals are spread over this many users (each send its own conversation)


@dataclass
class Config:
    streams: list[int]
    tokens: int = 200
    rate: float = 20.0
    words: bool = False  # deltas of 1-4 tokens instead of one token each
    send_via: str = "ws"  # "ws": over the conversation's socket (the composer's default); "post"
    arrivals: str = "burst"  # "burst": N sends at once per phase; "poisson": --rps for --duration
    rps: float = 0.0
    duration: float = 30.0
    capacity: bool = False
    capacity_first_token_ms: float = 250.0  # first token from Send p99, at most
    capacity_lag_ms: float = 150.0  # delivery lag per delta p99, at most
    capacity_precision: float = 0.15  # stop bisecting when the bracket is this narrow (hi/lo - 1)
    capacity_trials: int = 10
    lead: float = 1.0  # Poisson: a tab opens its socket this long before its Send
    procs: list[int] = field(default_factory=lambda: [1])
    placement: str = "local"  # or "cross": send by POST through one process, watch on another
    send_cpu: int = 0  # a sends-only burst of this many, the fake holding every reply
    database_url: str = ""
    page: bool = False
    page_messages: list[int] = field(default_factory=lambda: [10, 1000])
    page_requests: int = 20
    slow_clients: int = 0
    redis_url: str = "redis://127.0.0.1:6379/13"
    baseline: bool = True
    probe: bool = True
    ramp: float = 0.0
    first_frame_timeout: float | None = None  # default 30 s + 50 ms per stream
    stream_timeout: float | None = None
    py_spy: str = ""
    keep: bool = False
    raw: bool = False
    note: str = ""
    server_switch_interval: float = 0.0  # experiment knob; 0 = the app as it is
    wait_quiet: float = 0.0  # before each phase, wait up to this long for other processes to go idle
    quiet_cores: float = 0.15  # "idle": other processes use less than this many cores
    out: Path | None = None
    quiet: bool = False


@dataclass
class Phase:
    key: str  # short, unique in the run; part of every request tag
    label: str
    n: int
    tokens: int
    rate: float
    cross: bool = False  # send through one process (POST), watch on another
    baseline: bool = False
    slow: int = 0
    via: str = "ws"
    words: bool = False
    kind: str = "burst"  # "burst", "send-cpu" (sends only, the fake holding the replies), "poisson"
    rps: float = 0.0
    duration: float = 0.0
    spy: bool = False


def log(cfg: Config, message: str) -> None:
    if not cfg.quiet:
        print(message, file=sys.stderr, flush=True)


async def bounded(coros, limit: int) -> list:
    gate = asyncio.Semaphore(limit)

    async def one(coro):
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def reply_seconds(tokens: int, rate: float) -> float:
    """How long the fake takes to stream a reply (its first to its last delta)."""
    return (tokens - 1) / rate if rate else 0.0


@dataclass
class Window:
    """A measured phase's window besides its clients: the servers' counters at its start, py-spy,
    the harness's own event-loop lag and the servers' peak thread counts."""

    before: dict
    spy: tuple[subprocess.Popen, str] | None
    own_lag: list[float]
    ticker: asyncio.Task
    peak_threads: list[int]
    sampler: asyncio.Task
    spy_file: str = ""

    def record(self, result: dict) -> None:
        result["harness"]["loop_lag_ms"] = summary([lag * 1000 for lag in self.own_lag])
        for entry, threads in zip(result["server"]["processes"], self.peak_threads, strict=True):
            entry["peak_threads"] = threads
        result["server"]["peak_threads"] = max(self.peak_threads)
        if self.spy_file:
            result["py_spy"] = self.spy_file


class Run:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
        self.fake = BenchFake()
        self.servers: list[procs.AppServer] = []
        self.session: aiohttp.ClientSession | None = None
        self.users: list[dict] = []
        self.password = ""
        self.cookies: dict[str, dict[str, str]] = {}
        self.env: dict[str, str] = {}
        self.metrics_token = secrets.token_hex(16)
        self.database_url = ""
        self.results: dict = {}
        self.procs = 1  # processes of the current round
        self.round = 0  # index of the current round (one per --procs value)
        self._poisson_trials = 0

    # --- set-up ---------------------------------------------------------------------------------

    def cross(self) -> bool:
        return self.cfg.placement == "cross" and self.procs > 1

    def via(self) -> str:
        # A send over a socket goes to that socket's process: sending on one process and watching
        # on another is a POST (as the composer's fallback does it).
        return "post" if self.cross() else self.cfg.send_via

    def phases(self) -> list[Phase]:
        """The phases of one round with a fixed number of streams (Poisson trials come after)."""
        cfg = self.cfg
        k = self.procs
        prefix = f"k{k}" if len(cfg.procs) > 1 else ""
        label = f"K={k} " if len(cfg.procs) > 1 else ""
        phases = [Phase(f"{prefix}w", "warm-up", k, 10, 0, via=cfg.send_via)]
        if not cfg.streams and cfg.arrivals != "poisson" and not cfg.send_cpu:
            return []
        if cfg.probe and cfg.streams:
            short = max(8, cfg.tokens // 4)
            phases.append(
                Phase(
                    f"{prefix}s",
                    f"{label}bytes probe ({short} tokens)",
                    1,
                    short,
                    cfg.rate,
                    cross=self.cross(),
                    via=self.via(),
                    words=cfg.words,
                )
            )
        if cfg.send_cpu:
            phases.append(
                Phase(
                    f"{prefix}h",
                    f"{label}sends only ({cfg.send_cpu})",
                    cfg.send_cpu,
                    1,
                    0,
                    cross=self.cross(),
                    via=self.via(),
                    kind="send-cpu",
                    spy=bool(cfg.py_spy),
                )
            )
        for n in cfg.streams:
            phases.append(
                Phase(
                    f"{prefix}n{n}",
                    f"{label}N={n}",
                    n,
                    cfg.tokens,
                    cfg.rate,
                    cross=self.cross(),
                    baseline=cfg.baseline,
                    slow=cfg.slow_clients,
                    via=self.via(),
                    words=cfg.words,
                    spy=bool(cfg.py_spy) and n == max(cfg.streams),
                )
            )
        return phases

    async def setup(self) -> None:
        cfg = self.cfg
        self.fake.start()
        if max(cfg.procs) > 1:
            _check_redis(cfg.redis_url)
        if cfg.database_url:
            self.database_url = await asyncio.to_thread(procs.create_postgres_database, cfg.database_url)
        self.env = self.app_env(1)
        log(cfg, f"data dir {self.data_dir}; fake API at {self.fake.base_url}")
        await asyncio.to_thread(procs.run_python, ["manage.py", "migrate", "--noinput", "-v0"], self.env)
        await asyncio.to_thread(
            procs.run_python, ["manage.py", "collectstatic", "--noinput", "-v0"], self.env
        )
        counts = [p.n for p in self.phases()]
        out = await asyncio.to_thread(
            procs.run_python,
            [
                "-m",
                "bench.dbsetup",
                "streams",
                "--users",
                str(max(counts + [max(cfg.procs)])),
                "--per-user",
                str(max(1, len(counts)) * len(cfg.procs)),
            ],
            self.env,
        )
        data = json.loads(out)
        self.users, self.password = data["users"], data["password"]
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
        )

    def app_env(self, k: int) -> dict[str, str]:
        """The app's environment with k processes: Redis only when there are several."""
        return procs.app_env(
            self.data_dir,
            self.fake.base_url,
            self.cfg.redis_url if k > 1 else "",
            metrics_token=self.metrics_token,
            database_url=self.database_url,
        )

    async def start_servers(self, k: int) -> None:
        self.procs = k
        env = self.app_env(k)
        names = "ABCDEFGHIJKLMNOP"
        self.servers = [
            procs.AppServer(
                names[i] if i < len(names) else f"P{i}", env, self.data_dir, self.cfg.server_switch_interval
            )
            for i in range(k)
        ]
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in self.servers))
        log(self.cfg, "daphne: " + ", ".join(f"{s.name} pid {s.pid} at {s.base_url}" for s in self.servers))

    async def stop_servers(self) -> None:
        for server in self.servers:
            await asyncio.to_thread(server.stop)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
        procs.stop_all()
        self.fake.stop()
        if self.database_url and not self.cfg.keep:
            try:
                procs.drop_postgres_database(self.database_url)
            except Exception as exc:  # the run's result matters more than the clean-up
                print(f"could not drop {self.database_url}: {exc}", file=sys.stderr)
        if not self.cfg.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def cookies_for(self, username: str, password: str) -> dict[str, str]:
        if username not in self.cookies:
            assert self.session is not None
            self.cookies[username] = await login(self.session, self.servers[0].base_url, username, password)
        return self.cookies[username]

    # --- measurement helpers ---------------------------------------------------------------------

    async def snapshot(self, reset: bool) -> dict:
        """Every server's counters, CPU and /metrics; at a window's start (reset) the CPU is read
        after the HTTP calls, at its end before them, so they stay outside the window."""
        servers = []
        for server in self.servers:
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
        fake_thread = self.fake.loop_thread.native_id
        return {
            "servers": servers,
            "harness_cpu": procs.proc_cpu_seconds(os.getpid()),
            "fake_cpu": procs.thread_cpu_seconds(os.getpid(), fake_thread) if fake_thread else 0.0,
            "machine_cpu": procs.machine_busy_seconds(),
            "time": time.monotonic(),
        }

    async def wait_quiet(self) -> None:
        """On a shared machine: wait (up to --wait-quiet seconds) until the other processes use
        less than `quiet_cores` of CPU over a 2 s sample, so they do not skew the next phase."""
        cfg = self.cfg
        if not cfg.wait_quiet:
            return
        deadline = time.monotonic() + cfg.wait_quiet
        mine = [os.getpid()] + [s.pid for s in self.servers]
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

    def fake_logs(self) -> dict:
        return {r.request_id: r for r in list(self.fake.replies)}

    # --- streaming phases --------------------------------------------------------------------------

    def make_clients(
        self, phase: Phase, assignments: list[tuple[str, int]], cookies: list[dict]
    ) -> list[Client]:
        clients = []
        k = len(self.servers)
        for i, ((username, conversation), jar) in enumerate(zip(assignments, cookies, strict=True)):
            send = self.servers[i % k]
            watch = self.servers[(i + 1) % k] if phase.cross else send
            clients.append(Client(i, username, conversation, send.base_url, watch.base_url, jar))
        return clients

    def fixed_assignments(self, index: int, phase: Phase) -> list[tuple[str, int]]:
        users = self.users[: phase.n]
        return [(u["username"], u["conversations"][index]) for u in users]

    async def run_phase(self, index: int, phase: Phase) -> dict:
        cfg = self.cfg
        assert self.session is not None
        session = self.session
        stream_timeout = cfg.stream_timeout or reply_seconds(phase.tokens, phase.rate) * 3 + 30
        first_frame_timeout = cfg.first_frame_timeout or 30 + 0.05 * phase.n
        assignments = self.fixed_assignments(index, phase)
        cookies = await bounded([self.cookies_for(u, self.password) for u, _ in assignments], 16)
        clients = self.make_clients(phase, assignments, cookies)
        await self.wait_quiet()
        await bounded([c.open(session) for c in clients], 50)
        slow_sockets = []
        for j in range(phase.slow):
            owner = clients[j % len(clients)]
            slow_sockets.append(await open_slow_socket(owner.watch_base, owner.conversation, owner.cookies))
        await asyncio.sleep(0.3)  # every consumer has subscribed by now

        for server in self.servers:
            server.new_log_errors()
        window = await self._open_window(phase)
        tags = [f"{phase.key}-{i}" for i in range(phase.n)]

        async def go(client: Client, tag: str, delay: float) -> None:
            if delay:
                await asyncio.sleep(delay)
            text = request_text(tag, phase.tokens, phase.rate, words=phase.words)
            await client.send(session, text, phase.via)
            await client.wait(first_frame_timeout, stream_timeout)

        ramp = cfg.ramp if phase.n > 1 else 0.0
        await asyncio.gather(
            *(
                go(c, tag, ramp * i / max(1, phase.n - 1))
                for i, (c, tag) in enumerate(zip(clients, tags, strict=True))
            )
        )
        await asyncio.sleep(0.2)
        after = await self._close_window(window)
        # Replies a client never saw end: what does the watching server have stored for them?
        undelivered = [c for c in clients if c.error and c.reply_id is not None]
        stored = Counter(await bounded([self._stored_status(c) for c in undelivered], 16))
        rss_with_slow = [s.memory()["rss_mib"] for s in self.servers]
        kernel_queued = sum(
            procs.tcp_send_queues(server.port, {sock.getsockname()[1] for sock in slow_sockets})
            for server in self.servers
        )
        for sock in slow_sockets:
            sock.close()
        await asyncio.gather(*(c.close() for c in clients))
        result = self.analyse(phase, clients, tags, window.before, after)
        window.record(result)
        if undelivered:
            result["stored_status_of_undelivered"] = dict(stored)
        self._log_errors(result)
        if phase.slow:
            result["slow_clients"] = {
                "count": phase.slow,
                "server_rss_mib_before_close": rss_with_slow,
                # what the kernel holds for them; anything beyond that sits in daphne's own buffers
                "kernel_send_queue_bytes": kernel_queued,
                "frame_bytes_each_was_sent": result["wire_bytes_per_reply"],
            }
        return result

    def _log_errors(self, result: dict) -> None:
        log_errors = Counter()
        for server in self.servers:
            log_errors.update(server.new_log_errors())
        if log_errors:
            result["server_log_errors"] = dict(log_errors.most_common(10))

    async def run_send_cpu(self, index: int, phase: Phase) -> dict:
        """A burst of sends whose replies the fake holds (no response at all): the server's CPU over
        the window is what accepting the sends cost, up to each reply's request reaching the fake."""
        assert self.session is not None
        session = self.session
        assignments = self.fixed_assignments(index, phase)
        cookies = await bounded([self.cookies_for(u, self.password) for u, _ in assignments], 16)
        clients = self.make_clients(phase, assignments, cookies)
        await self.wait_quiet()
        await bounded([c.open(session) for c in clients], 50)
        await asyncio.sleep(0.3)
        for server in self.servers:
            server.new_log_errors()
        tags = [f"{phase.key}-{i}" for i in range(phase.n)]
        held_before = self.fake.holds
        before = await self.snapshot(reset=True)
        spy = self._start_py_spy(phase)
        await asyncio.gather(
            *(
                c.send(session, request_text(tag, 1, 0, hold=60), phase.via)
                for c, tag in zip(clients, tags, strict=True)
            )
        )
        # Until every reply's request reached the fake (and is held there), then a moment to settle.
        deadline = time.monotonic() + 30 + 0.05 * phase.n
        while self.fake.holds - held_before < phase.n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        reached = time.monotonic()
        await asyncio.sleep(0.1)
        after = await self.snapshot(reset=False)
        spy_file = self._stop_py_spy(spy)
        self.fake.release_held()
        await asyncio.gather(*(c.wait(30, 30) for c in clients))
        await asyncio.gather(*(c.close() for c in clients))
        sent = [c.sent_at for c in clients if c.sent_at is not None]
        requests = self.fake.holds - held_before
        cpu = sum(a["cpu"] - b["cpu"] for a, b in zip(after["servers"], before["servers"], strict=True))
        main = sum(
            a["cpu_main_thread"] - b["cpu_main_thread"]
            for a, b in zip(after["servers"], before["servers"], strict=True)
        )
        n = phase.n
        sends = self._send_records(after)
        metrics = self._metrics(before, after)
        result = {
            "label": phase.label,
            "kind": "send-cpu",
            "streams": n,
            "via": phase.via,
            "procs": self.procs,
            "answered": sum(1 for c in clients if c.reply_id is not None),
            "upstream_requests": requests,
            "errors": dict(Counter(_error_kind(c.error) for c in clients if c.error)),
            "burst_s": (reached - min(sent)) if sent else None,
            "window_s": after["time"] - before["time"],
            # Heartbeats of the held replies that fell in the window (CHAT_CHECKPOINT_INTERVAL after
            # each start): not part of a send, so they should be 0 here.
            "checkpoint_writes": sum(p["db_write_transactions"]["checkpoint"] for p in metrics["processes"]),
            "cpu_s": cpu,
            "other_processes_cpu_s": max(
                0.0,
                (after["machine_cpu"] - before["machine_cpu"])
                - cpu
                - (after["harness_cpu"] - before["harness_cpu"]),
            ),
            "cpu_ms_per_send": cpu / n * 1000,
            "main_thread_cpu_ms_per_send": main / n * 1000,
            "other_threads_cpu_ms_per_send": (cpu - main) / n * 1000,
            "send_answer_ms": summary(
                [(c.answered_at - c.sent_at) * 1000 for c in clients if c.answered_at and c.sent_at]
            ),
            "send_server_ms": summary(self._send_server_ms(after, phase.via)),
            "send_service_ms": summary([r["seconds"] * 1000 for r in sends]),
            "send_service_cpu_ms": summary([r["cpu_seconds"] * 1000 for r in sends]),
            "send_service_statements": summary([r.get("statements", 0) for r in sends]),
            "metrics": metrics,
        }
        if spy_file:
            result["py_spy"] = spy_file
        self._log_errors(result)
        return result

    # --- Poisson arrivals ---------------------------------------------------------------------------

    async def new_conversations(self, count: int) -> list[tuple[str, int]]:
        """`count` fresh conversations (each with one earlier exchange), spread over a pool of users."""
        users = max(1, min(count, POISSON_USERS))
        per_user = math.ceil(count / users)
        out = await asyncio.to_thread(
            procs.run_python,
            ["-m", "bench.dbsetup", "streams", "--users", str(users), "--per-user", str(per_user)],
            self.env,
        )
        data = json.loads(out)
        return [
            (data["users"][i % users]["username"], data["users"][i % users]["conversations"][i // users])
            for i in range(count)
        ]

    async def run_poisson(self, rps: float, duration: float) -> dict:
        cfg = self.cfg
        assert self.session is not None
        session = self.session
        self._poisson_trials += 1
        multi = len(cfg.procs) > 1
        key = f"{f'k{self.procs}' if multi else ''}p{self._poisson_trials}"
        # A Poisson process conditioned on its count: exactly round(rps x duration) arrivals, at
        # uniformly random moments (exponential gaps, as bursty as Poisson), so that runs at nearby
        # rates are not told apart by the luck of the draw (+-sqrt(n) sends in 30 s otherwise).
        rng = random.Random(f"poisson {rps:g} {duration:g} {self._poisson_trials}")
        offsets = sorted(rng.uniform(0, duration) for _ in range(max(1, round(rps * duration))))
        label = f"{f'K={self.procs} ' if multi else ''}Poisson {rps:g}/s"
        phase = Phase(
            key,
            label,
            len(offsets),
            cfg.tokens,
            cfg.rate,
            cross=self.cross(),
            via=self.via(),
            words=cfg.words,
            kind="poisson",
            rps=rps,
            duration=duration,
            spy=bool(cfg.py_spy) and not cfg.capacity,
        )
        log(
            cfg,
            f"{label}: {phase.n} sends over {duration:g} s, {phase.tokens} tokens at {phase.rate:g} tok/s",
        )
        assignments = await self.new_conversations(phase.n) if phase.n else []
        cookies = await bounded([self.cookies_for(u, self.password) for u, _ in assignments], 16)
        clients = self.make_clients(phase, assignments, cookies)
        tags = [f"{key}-{i}" for i in range(phase.n)]
        stream_timeout = cfg.stream_timeout or reply_seconds(phase.tokens, phase.rate) * 3 + 30
        first_frame_timeout = cfg.first_frame_timeout or 30.0
        await self.wait_quiet()
        for server in self.servers:
            server.new_log_errors()
        window = await self._open_window(phase)
        loop = asyncio.get_running_loop()
        start = loop.time() + cfg.lead
        start_mono = time.monotonic() + cfg.lead

        async def until(at: float) -> None:
            await asyncio.sleep(max(0.0, at - loop.time()))

        async def one(client: Client, tag: str, offset: float) -> None:
            await until(start + offset - cfg.lead)
            try:
                await client.open(session)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                client.error = f"socket failed: {exc!r}"
                return
            await until(start + offset)
            await client.send(
                session, request_text(tag, phase.tokens, phase.rate, words=phase.words), phase.via
            )
            await client.wait(first_frame_timeout, stream_timeout)
            await client.close()

        await asyncio.gather(*(one(c, tag, o) for c, tag, o in zip(clients, tags, offsets, strict=True)))
        await asyncio.sleep(0.2)
        after = await self._close_window(window)
        await asyncio.gather(*(c.close() for c in clients))
        undelivered = [c for c in clients if c.error and c.reply_id is not None]
        stored = Counter(await bounded([self._stored_status(c) for c in undelivered], 16))
        result = self.analyse(phase, clients, tags, window.before, after)
        window.record(result)
        if undelivered:
            result["stored_status_of_undelivered"] = dict(stored)
            result["undelivered"] = [
                {
                    "server": next(s.name for s in self.servers if s.base_url == c.watch_base),
                    "reply": c.reply_id,
                    "error": c.error,
                    "frames": dict(c.view.frames) if c.view else {},
                    "last_seq": c.view.last_seq if c.view else None,
                    "gaps": c.view.gaps if c.view else None,
                    "resyncs": c.resyncs_sent,
                    "closed_code": c.closed_code,
                }
                for c in undelivered
            ]
        self._log_errors(result)
        # Concurrency: nominal (Little's law with the nominal reply length) and as the fake saw it,
        # averaged over the steady part of the window (after the first reply's length).
        length = reply_seconds(phase.tokens, phase.rate)
        result["poisson"] = {
            "rps": rps,
            "duration_s": duration,
            "arrivals": phase.n,
            "reply_s": length,
            "nominal_concurrency": rps * length,
            "mean_concurrency": self._mean_concurrency(
                tags, start_mono + min(length, duration / 2), start_mono + duration
            ),
        }
        result["poisson"]["pass"], result["poisson"]["why"] = self.capacity_verdict(result)
        log(
            cfg,
            _phase_line(result)
            + f"; {'PASS' if result['poisson']['pass'] else 'FAIL'} {result['poisson']['why']}",
        )
        return result

    def _mean_concurrency(self, tags: list[str], start: float, end: float) -> float | None:
        if end <= start:
            return None
        logs = self.fake_logs()
        busy = 0.0
        for tag in tags:
            entry = logs.get(f"req_bench_{tag}")
            if entry is None or not entry.delta_times:
                continue
            a, b = max(start, entry.delta_times[0]), min(end, entry.delta_times[-1])
            busy += max(0.0, b - a)
        return busy / (end - start)

    def capacity_verdict(self, result: dict) -> tuple[bool, str]:
        cfg = self.cfg
        why = []
        if result["completed"] < result["streams"]:
            why.append(f"{result['streams'] - result['completed']} not completed")
        if result["lost_chars"] or result["duplicated_chars"]:
            why.append(f"{result['lost_chars']} lost / {result['duplicated_chars']} duplicated chars")
        ft = result["ttft_from_send_ms"]["p99"]
        lag = result["delta_lag_ms"]["p99"]
        if ft is None or ft > cfg.capacity_first_token_ms:
            why.append(f"first token from Send p99 {_ms(ft)} > {cfg.capacity_first_token_ms:g} ms")
        if lag is None or lag > cfg.capacity_lag_ms:
            why.append(f"lag per delta p99 {_ms(lag)} > {cfg.capacity_lag_ms:g} ms")
        return not why, "; ".join(why) or (f"first token p99 {_ms(ft)} ms, lag p99 {_ms(lag)} ms")

    async def run_capacity(self) -> dict:
        """Doubling, then bisecting, the Poisson rate: the largest that passes (capacity_verdict)."""
        cfg = self.cfg
        rps = cfg.rps or 2.0
        lo = hi = None
        trials = []
        discarded = []
        while len(trials) < cfg.capacity_trials:
            result = await self.run_poisson(rps, cfg.duration)
            busy = result["other_processes_cpu_s"] / result["wall_s"] if result["wall_s"] else 0.0
            repeats = sum(1 for d in discarded if d["poisson"]["rps"] == rps)
            if cfg.wait_quiet and busy > cfg.quiet_cores and not result["poisson"]["pass"] and repeats < 2:
                # Other processes took CPU during a failed run: its latencies are not the app's
                # alone, so it says nothing about the app's capacity (at most 2 repeats per rate).
                log(cfg, f"  other processes used {busy:.2f} cores during the run: repeating it")
                result["poisson"]["discarded"] = f"other processes used {busy:.2f} cores"
                discarded.append(result)
                continue
            trials.append(result)
            if result["poisson"]["pass"]:
                lo = rps if lo is None else max(lo, rps)
            else:
                hi = rps if hi is None else min(hi, rps)
            if lo is not None and hi is not None and hi / lo - 1 <= cfg.capacity_precision:
                break
            if hi is None:
                rps = lo * 2
            elif lo is None:
                rps = hi / 2
                if rps < 0.1:
                    break
            else:
                rps = round((lo + hi) / 2, 3)
            await asyncio.sleep(1.0)
        length = reply_seconds(cfg.tokens, cfg.rate)
        best = next((t for t in trials if t["poisson"]["rps"] == lo), None) if lo is not None else None
        capacity = {
            "procs": self.procs,
            "placement": cfg.placement if self.procs > 1 else "local",
            "via": self.via(),
            "first_token_limit_ms": cfg.capacity_first_token_ms,
            "lag_limit_ms": cfg.capacity_lag_ms,
            "rps": lo,
            "failed_rps": hi,
            "reply_s": length,
            "concurrency": lo * length if lo is not None else 0.0,
            "concurrency_per_process": (lo * length / self.procs) if lo is not None else 0.0,
            "mean_concurrency_measured": best["poisson"]["mean_concurrency"] if best else None,
            "trials": [t["label"] for t in trials],
        }
        if best is not None:
            capacity["relay_messages"] = best["relay"]["messages"]
            capacity["frames"] = best["relay"]["frames"]
        log(cfg, capacity_line(capacity))
        return {"capacity": capacity, "trials": trials, "discarded": discarded}

    async def _sample_threads(self, peaks: list[int]) -> None:
        while True:
            for i, server in enumerate(self.servers):
                try:
                    peaks[i] = max(peaks[i], server.memory()["threads"])
                except OSError:
                    pass
            await asyncio.sleep(0.05)

    async def _stored_status(self, client: Client) -> str:
        assert self.session is not None
        url = f"{client.watch_base}/c/{client.conversation}/"
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}
        try:
            async with self.session.get(url, headers=headers) as resp:
                body = await resp.text()
        except aiohttp.ClientError as exc:
            return f"page failed: {exc!r}"
        match = re.search(rf'id="message-{client.reply_id}"[^>]*data-status="(\w+)"', body)
        return match.group(1) if match else "missing"

    # --- from the window's counters to numbers ---------------------------------------------------

    @staticmethod
    def _send_records(after: dict) -> list[dict]:
        """The send service's calls in the window (the stats were reset at its start)."""
        return [r for s in after["servers"] for r in s["stats"].get("sends", []) if r.get("ok")]

    @staticmethod
    def _send_server_ms(after: dict, via: str) -> list[float]:
        """Server time of each send: its frame to its `a` frame, or its POST to the response's end."""
        out = []
        for s in after["servers"]:
            if via == "ws":
                out += [r["server_seconds"] * 1000 for r in s["stats"].get("ws_sends", []) if r["accepted"]]
            else:
                out += [
                    r["server_seconds"] * 1000
                    for r in s["stats"]["requests"]
                    if re.fullmatch(r"/c/\d+/send/", r["path"]) and r["status"] == 200
                ]
        return out

    @staticmethod
    def _metrics(before: dict, after: dict) -> dict:
        """The app's own /metrics over the window, per process and summed."""
        per_process = []
        for b, a in zip(before["servers"], after["servers"], strict=True):
            mb, ma = b["metrics"], a["metrics"]
            per_process.append(
                {
                    "relay_messages": metric_delta(mb, ma, "chat_relay_messages_total"),
                    "frames": metric_delta(mb, ma, "chat_frames_total"),
                    "send_handling_websocket": histogram_delta(
                        mb, ma, "chat_send_handling_seconds", path="websocket"
                    ),
                    "send_handling_post": histogram_delta(mb, ma, "chat_send_handling_seconds", path="post"),
                    "send_to_first_token": histogram_delta(mb, ma, "chat_send_to_first_token_seconds"),
                    "db_write_transactions": {
                        kind: metric_delta(mb, ma, "chat_db_write_transactions_total", kind=kind)
                        for kind in ("send", "block", "checkpoint", "final")
                    },
                    "active_streams_end": ma.get(("chat_active_streams", ()), None),
                }
            )
        return {"processes": per_process}

    def analyse(
        self, phase: Phase, clients: list[Client], tags: list[str], before: dict, after: dict
    ) -> dict:
        logs = self.fake_logs()
        first_token, ttft, answer_ms, lags, per_delta, fps, bytes_ratio = [], [], [], [], [], [], []
        reply_bytes, text_bytes, text_chars, kinds, frames_per_reply = [], [], [], Counter(), []
        tokens_per_frame, durations = [], []
        lost = duplicated = mismatched = no_upstream = recovered = 0
        raw = []
        statuses, errors = Counter(), Counter()
        gaps = resyncs = snapshots = 0
        tokens = deltas = 0
        for client, tag in zip(clients, tags, strict=True):
            log_entry = logs.get(f"req_bench_{tag}")
            view = client.view
            if client.error:
                errors[_error_kind(client.error)] += 1
            if client.answered_at is not None and client.sent_at is not None:
                answer_ms.append((client.answered_at - client.sent_at) * 1000)
            if log_entry is None:
                no_upstream += 1
                continue
            sent = log_entry.text_sent
            deltas += len(log_entry.delta_times)
            counts = chunk_token_counts(tag, phase.tokens, phase.words)
            tokens += sum(counts[: len(log_entry.delta_times)])
            received = view.text if view else ""
            lc, dc = lost_and_duplicated(sent, received)
            lost, duplicated = lost + lc, duplicated + dc
            mismatched += bool(lc or dc)
            if view is None:
                continue
            if (lc or dc) and view.final_html and html_shows_text(view.final_html, sent):
                recovered += 1
            statuses[view.final_status or "no end frame"] += 1
            gaps, resyncs, snapshots = (
                gaps + view.gaps,
                resyncs + client.resyncs_sent,
                snapshots + view.snapshots,
            )
            if view.deltas:
                first = view.deltas[0][0]
                if log_entry.first_delta_at is not None:
                    first_token.append((first - log_entry.first_delta_at) * 1000)
                if client.sent_at is not None:
                    ttft.append((first - client.sent_at) * 1000)
                lengths = [len(c) for c in reply_chunks(tag, phase.tokens, phase.words)]
                stream_lags = delivery_lags(view.deltas, lengths, log_entry.delta_times)
                lags += [lag * 1000 for lag in stream_lags]
                stream_delta_lags = delta_lags(view.spans, lengths, log_entry.delta_times)
                per_delta += [lag * 1000 for lag in stream_delta_lags]
                if self.cfg.raw:
                    zero = client.sent_at or 0.0
                    raw.append(
                        {
                            "tag": tag,
                            "frames_at_ms": [round((t - zero) * 1000, 3) for t, _ in view.deltas],
                            "frame_ends": [end for _, end in view.deltas],
                            "fake_deltas_at_ms": [round((t - zero) * 1000, 3) for t in log_entry.delta_times],
                            "lags_ms": [round(lag * 1000, 3) for lag in stream_lags],
                            "delta_lags_ms": [round(lag * 1000, 3) for lag in stream_delta_lags],
                        }
                    )
                if len(view.deltas) > 1:
                    span = view.deltas[-1][0] - view.deltas[0][0]
                    if span > 0:
                        fps.append((len(view.deltas) - 1) / span)
                tokens_per_frame.append(len(log_entry.delta_times) / len(view.deltas))
            if view.ended_at is not None and client.sent_at is not None:
                durations.append(view.ended_at - client.sent_at)
            if sent:
                reply_bytes.append(view.bytes)
                text_bytes.append(len(sent.encode()))
                text_chars.append(len(sent))
                bytes_ratio.append(view.bytes / len(sent.encode()))
                kinds.update(view.bytes_by_kind)
                frames_per_reply.append(sum(view.frames.values()))

        completed = sum(1 for c in clients if c.view is not None and c.view.ended_at is not None)
        # How many replies were streaming from the fake at the same moment, at most.
        edges = []
        for tag in tags:
            entry = logs.get(f"req_bench_{tag}")
            if entry is not None and entry.delta_times:
                edges += [(entry.delta_times[0], 1), (entry.delta_times[-1], -1)]
        fake_seconds = [
            e.delta_times[-1] - e.delta_times[0]
            for tag in tags
            if (e := logs.get(f"req_bench_{tag}")) is not None and len(e.delta_times) > 1
        ]
        fake_rates = [
            (len(e.delta_times) - 1) / (e.delta_times[-1] - e.delta_times[0])
            for tag in tags
            if (e := logs.get(f"req_bench_{tag}")) is not None
            and len(e.delta_times) > 1
            and e.delta_times[-1] > e.delta_times[0]
        ]
        concurrent = peak_concurrent = 0
        for _, step in sorted(edges):
            concurrent += step
            peak_concurrent = max(peak_concurrent, concurrent)
        servers = []
        cpu = 0.0
        totals, tables, turn = Counter(), Counter(), Counter()
        lag_summaries = []
        for b, a in zip(before["servers"], after["servers"], strict=True):
            cpu += a["cpu"] - b["cpu"]
            servers.append(
                {
                    "cpu_s": a["cpu"] - b["cpu"],
                    "cpu_main_thread_s": a["cpu_main_thread"] - b["cpu_main_thread"],
                    "cpu_user_s": a["cpu_user"] - b["cpu_user"],
                    "cpu_sys_s": a["cpu_sys"] - b["cpu_sys"],
                    "sql_seconds": a["stats"]["seconds"].get("statements", 0)
                    - b["stats"]["seconds"].get("statements", 0),
                    "sqlite_begin_wait_seconds": a["stats"]["seconds"].get("begin", 0)
                    - b["stats"]["seconds"].get("begin", 0),
                    "sqlite_begin_wait_ms": a["stats"]["begin_wait_ms"],
                    "rss_mib_start": b["rss_mib"],
                    "rss_mib_end": a["rss_mib"],
                    "peak_rss_mib": a["peak_rss_mib"],
                    "loop_lag_ms": a["stats"]["loop_lag"],
                }
            )
            lag_summaries.append(a["stats"]["loop_lag"])
            for key, value in a["stats"]["totals"].items():
                totals[key] += value - b["stats"]["totals"].get(key, 0)
            for key, value in a["stats"]["write_tables"].items():
                tables[key] += value - b["stats"]["write_tables"].get(key, 0)
            # The user turn: a POST's own counter (which includes its send service's statements), or
            # the send service's counter for a send over a websocket.
            for request in a["stats"]["requests"]:
                if re.fullmatch(r"/c/\d+/send/", request["path"]):
                    for key in ("statements", "write_statements", "write_transactions"):
                        turn[key] += request.get(key, 0)
            for record in a["stats"].get("sends", []):
                if record["path"] == "websocket":
                    for key in ("statements", "write_statements", "write_transactions"):
                        turn[key] += record.get(key, 0)
        metrics = self._metrics(before, after)
        relay_messages = sum(p["relay_messages"] for p in metrics["processes"])
        frames = sum(p["frames"] for p in metrics["processes"])
        sends = self._send_records(after)
        replies = max(1, sum(1 for c in clients if c.reply_id is not None))
        # One text block per reply; a checkpoint per 2 s of the reply's life (POST to end frame).
        target = [1 + 1 + math.floor(d / 2) for d in durations]
        db = {
            "replies": replies,
            "statements_per_reply": totals["statements"] / replies,
            "write_statements_per_reply": totals["write_statements"] / replies,
            "write_transactions_per_reply": totals["write_transactions"] / replies,
            "user_turn_write_transactions_per_reply": turn["write_transactions"] / replies,
            "user_turn_write_statements_per_reply": turn["write_statements"] / replies,
            "generation_write_transactions_per_reply": (
                totals["write_transactions"] - turn["write_transactions"]
            )
            / replies,
            "generation_write_statements_per_reply": (totals["write_statements"] - turn["write_statements"])
            / replies,
            "target_generation_writes_per_reply": statistics.mean(target) if target else None,
            "noop_write_statements": totals["noop_write_statements"],
            "writes_per_reply_by_table": {k: v / replies for k, v in sorted(tables.items()) if v},
        }
        wall = after["time"] - before["time"]
        return {
            "label": phase.label,
            "streams": phase.n,
            "tokens_per_reply": phase.tokens,
            "rate_tokens_per_s": phase.rate,
            "cross_process": phase.cross,
            "kind": phase.kind,
            "via": phase.via,
            "words": phase.words,
            "procs": len(self.servers),
            "completed": completed,
            "peak_concurrent_streams": peak_concurrent,
            # What the fake actually emitted: below --rate means it (or the machine) could not keep up.
            "fake_stream_s": summary(fake_seconds),
            "fake_rate_tokens_per_s": summary(fake_rates),
            "errors": dict(errors),
            "final_status": dict(statuses),
            "no_upstream_request": no_upstream,
            "wall_s": wall,
            "first_token_ms": summary(first_token),
            "ttft_from_send_ms": summary(ttft),
            "send_answer_ms": summary(answer_ms),
            "send_server_ms": summary(self._send_server_ms(after, phase.via)),
            "send_service_ms": summary([r["seconds"] * 1000 for r in sends]),
            "send_service_cpu_ms": summary([r["cpu_seconds"] * 1000 for r in sends]),
            "delta_lag_ms": summary(per_delta),
            "delivery_lag_ms": summary(lags),
            "frames_per_s_per_stream": summary(fps),
            "tokens_per_d_frame": summary(tokens_per_frame),
            "frames_per_reply": summary(frames_per_reply),
            "reply_duration_s": summary(durations),
            "wire_bytes_per_reply": statistics.mean(reply_bytes) if reply_bytes else None,
            "wire_bytes_per_reply_by_frame_kind": {
                k: v / max(1, len(reply_bytes)) for k, v in sorted(kinds.items())
            },
            "text_bytes_per_reply": statistics.mean(text_bytes) if text_bytes else None,
            "text_chars_per_reply": statistics.mean(text_chars) if text_chars else None,
            "wire_bytes_per_text_byte": statistics.mean(bytes_ratio) if bytes_ratio else None,
            "lost_chars": lost,
            "duplicated_chars": duplicated,
            "mismatched_streams": mismatched,
            # of those, replies whose end frame (swapped in by the browser) still shows all the text
            "mismatched_but_end_frame_complete": recovered,
            "gaps": gaps,
            "resyncs": resyncs,
            "snapshots": snapshots,
            "tokens": tokens,
            "deltas": deltas,
            "relay": {
                "messages": relay_messages,
                "frames": frames,
                "messages_per_frame": relay_messages / frames if frames else None,
                "per_process": [
                    {"server": server.name, "relay_messages": p["relay_messages"], "frames": p["frames"]}
                    for server, p in zip(self.servers, metrics["processes"], strict=True)
                ],
            },
            "metrics": metrics,
            "server": {
                "processes": servers,
                "cpu_s": cpu,
                "cpu_s_per_1k_tokens": cpu / (tokens / 1000) if tokens else None,
                "sqlite_begin_wait_p99_ms": max((s["sqlite_begin_wait_ms"].get("p99") or 0) for s in servers),
                "sqlite_begin_wait_seconds": sum(s["sqlite_begin_wait_seconds"] for s in servers),
                "peak_rss_mib": max(s["peak_rss_mib"] for s in servers),
                "loop_lag_p99_ms": max((s.get("p99_ms") or 0) for s in lag_summaries),
            },
            "db": db,
            **({"raw_streams": raw} if self.cfg.raw else {}),
            "harness": {
                "cpu_s": after["harness_cpu"] - before["harness_cpu"],
                "fake_api_thread_cpu_s": after["fake_cpu"] - before["fake_cpu"],
            },
            # CPU that neither the servers nor the harness used: other processes on the machine
            # (anything above ~0.1 s per 10 s means the figures were measured on a busy machine).
            "other_processes_cpu_s": max(
                0.0,
                (after["machine_cpu"] - before["machine_cpu"])
                - cpu
                - (after["harness_cpu"] - before["harness_cpu"]),
            ),
            "loadavg": _loadavg(),
        }

    async def _open_window(self, phase: Phase) -> Window:
        before = await self.snapshot(reset=True)
        spy = self._start_py_spy(phase)
        own_lag: list[float] = []
        peak_threads = [0] * len(self.servers)
        ticker = asyncio.create_task(_tick(own_lag))
        sampler = asyncio.create_task(self._sample_threads(peak_threads))
        return Window(before, spy, own_lag, ticker, peak_threads, sampler)

    async def _close_window(self, window: Window) -> dict:
        """Stop the window's samplers; the servers' counters at its end."""
        window.ticker.cancel()
        window.sampler.cancel()
        after = await self.snapshot(reset=False)
        window.spy_file = self._stop_py_spy(window.spy)
        return after

    def _start_py_spy(self, phase: Phase) -> tuple[subprocess.Popen, str] | None:
        cfg = self.cfg
        if not cfg.py_spy or not phase.spy:
            return None
        out_dir = cfg.out.parent if cfg.out else Path(__file__).parent / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = str(out_dir / f"py-spy-{time.strftime('%Y%m%d-%H%M%S')}-{phase.key}.txt")
        proc = subprocess.Popen(
            [
                cfg.py_spy,
                "record",
                "--nonblocking",
                "--threads",
                "-r",
                "250",
                "-f",
                "raw",
                "-o",
                path,
                "-p",
                str(self.servers[0].pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs._children.append(proc)
        return proc, path

    def _stop_py_spy(self, spy: tuple[subprocess.Popen, str] | None) -> str:
        if spy is None:
            return ""
        proc, path = spy
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc in procs._children:
            procs._children.remove(proc)
        return path

    # --- baseline ----------------------------------------------------------------------------------

    def upstream_offsets(self, phase: Phase) -> list[float]:
        """When the app's request for each stream of this phase reached the fake, from the first one."""
        arrivals: dict[str, float] = {}
        for request in list(self.fake.requests):
            if request.path == "/v1/messages":
                match = _TAG_RE.search(last_user_text(request.body))
                if match and match.group(1).startswith(f"{phase.key}-"):
                    arrivals[match.group(1)] = request.at
        if not arrivals:
            return []
        first = min(arrivals.values())
        return [round(arrivals.get(f"{phase.key}-{i}", first) - first, 4) for i in range(phase.n)]

    async def run_baseline(self, phase: Phase) -> dict:
        prefix = f"b-{phase.key}"
        offsets_file = self.data_dir / f"offsets-{phase.key}.json"
        offsets = self.upstream_offsets(phase)
        offsets_file.write_text(json.dumps(offsets))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.baseline",
            "--base-url",
            self.fake.base_url,
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
        logs = self.fake_logs()
        first_token, lags = [], []
        tokens = lost = duplicated = 0
        errors = 0
        for stream in data["streams"]:
            entry = logs.get(stream.get("request_id", ""))
            if stream["error"] or entry is None:
                errors += 1
                continue
            tokens += sum(
                chunk_token_counts(stream["tag"], phase.tokens, phase.words)[: len(entry.delta_times)]
            )
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
            "tokens": tokens,
            "cpu_s_per_1k_tokens": data["cpu_s"] / (tokens / 1000) if tokens else None,
            "lost_chars": lost,
            "duplicated_chars": duplicated,
        }

    # --- page benchmark -----------------------------------------------------------------------------

    async def run_page(self) -> dict:
        cfg = self.cfg
        assert self.session is not None
        server = self.servers[0]
        out = {}
        for messages in cfg.page_messages:
            info = json.loads(
                await asyncio.to_thread(
                    procs.run_python, ["-m", "bench.dbsetup", "page", "--messages", str(messages)], self.env
                )
            )
            cookies = await self.cookies_for(info["username"], info["password"])
            url = f"{server.base_url}/c/{info['conversation']}/"
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
            for _ in range(3):  # warm-up: template loading, first queries
                async with self.session.get(url, headers=headers) as resp:
                    await resp.read()
            client_ms, sizes = [], []
            for i in range(cfg.page_requests):
                start = time.perf_counter()
                async with self.session.get(f"{url}?timed={i}", headers=headers) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise BenchError(f"GET {url} answered {resp.status}")
                client_ms.append((time.perf_counter() - start) * 1000)
                sizes.append(len(body))
            stats = await asyncio.to_thread(server.stats, False)
            mine = [
                r
                for r in stats["requests"]
                if r["path"] == f"/c/{info['conversation']}/" and r["query"].startswith("timed=")
            ]
            queries = sorted({r.get("statements", 0) for r in mine})
            rendered = body.decode().count('data-role="')
            out[str(messages)] = {
                "messages": messages,
                "messages_rendered": rendered,
                "requests": len(mine),
                "queries_per_request": queries[0] if len(queries) == 1 else queries,
                "write_statements": sum(r.get("write_statements", 0) for r in mine),
                "client_ms_median": statistics.median(client_ms),
                "client_ms_p90": sorted(client_ms)[int(0.9 * (len(client_ms) - 1))],
                "server_ms_median": statistics.median(r["server_seconds"] * 1000 for r in mine),
                "response_bytes": statistics.median(sizes),
            }
            log(cfg, f"page {messages} messages: {out[str(messages)]}")
        return out

    # --- the whole run ----------------------------------------------------------------------------

    async def run(self) -> dict:
        cfg = self.cfg
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        await self.setup()
        results = {
            "started": started,
            "config": {
                "streams": cfg.streams,
                "tokens": cfg.tokens,
                "rate": cfg.rate,
                "words": cfg.words,
                "send_via": cfg.send_via,
                "arrivals": cfg.arrivals,
                "rps": cfg.rps,
                "duration_s": cfg.duration,
                "capacity": cfg.capacity,
                "capacity_first_token_ms": cfg.capacity_first_token_ms,
                "capacity_lag_ms": cfg.capacity_lag_ms,
                "procs": cfg.procs,
                "placement": cfg.placement,
                "send_cpu": cfg.send_cpu,
                "slow_clients": cfg.slow_clients,
                "redis": cfg.redis_url if max(cfg.procs) > 1 else "",
                "database": "postgresql" if cfg.database_url else "sqlite",
                "ramp_s": cfg.ramp,
                "page": cfg.page,
                "note": cfg.note,
                "server_switch_interval": cfg.server_switch_interval,
            },
            "machine": _machine(),
            "phases": [],
            "send_cpu": [],
            "poisson": [],
            "capacity": [],
            "page": None,
        }
        self.results = results
        for round_index, k in enumerate(cfg.procs):
            self.round = round_index
            await self.start_servers(k)
            phases = self.phases()
            for index, phase in enumerate(phases):
                slot = round_index * len(phases) + index
                log(
                    cfg,
                    f"phase {phase.label}: {phase.n} streams x {phase.tokens} tokens at {phase.rate:g} tok/s"
                    f" ({'word' if phase.words else 'token'} deltas), send via {phase.via}, {k} process(es)",
                )
                if phase.kind == "send-cpu":
                    result = await self.run_send_cpu(slot, phase)
                else:
                    result = await self.run_phase(slot, phase)
                self._check_alive()
                if phase.key.endswith("w"):
                    continue
                if phase.kind == "send-cpu":
                    results["send_cpu"].append(result)
                    log(cfg, _send_cpu_line(result))
                    continue
                if phase.baseline:
                    await self.wait_quiet()
                    result["baseline"] = await self.run_baseline(phase)
                results["phases"].append(result)
                log(cfg, _phase_line(result))
            if cfg.arrivals == "poisson":
                if cfg.capacity:
                    found = await self.run_capacity()
                    results["poisson"] += found["trials"]
                    results["capacity"].append(found["capacity"])
                    results.setdefault("discarded_poisson", []).extend(found["discarded"])
                else:
                    results["poisson"].append(await self.run_poisson(cfg.rps or 2.0, cfg.duration))
                self._check_alive()
            if cfg.page and round_index == 0:
                results["page"] = await self.run_page()
            await self.stop_servers()
        results["bytes_linearity"] = _linearity(results["phases"])
        from bench.report import targets

        results["targets"] = targets(results)
        return results

    def _check_alive(self) -> None:
        for server in self.servers:
            if not server.alive():
                raise BenchError(f"daphne {server.name} died:\n{server.log_tail()}")


async def _tick(samples: list[float], interval: float = 0.01) -> None:
    """The harness's own event-loop lag: if it is high, frame arrival stamps are late too."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        samples.append(max(0.0, loop.time() - start - interval))


def _error_kind(error: str) -> str:
    return re.sub(r"[\d.]+ s\b", "N s", error.split(":")[0])


def _ms(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def _phase_line(result: dict) -> str:
    ft = result["ttft_from_send_ms"]
    lag = result["delta_lag_ms"]
    relay = result["relay"]
    return (
        f"  completed {result['completed']}/{result['streams']}, first token from Send p50 "
        f"{_ms(ft['p50'])} ms p99 {_ms(ft['p99'])} ms, lag per delta p99 {_ms(lag['p99'])} ms, "
        f"lost {result['lost_chars']} dup {result['duplicated_chars']}, relay messages "
        f"{relay['messages']:g} / frames {relay['frames']:g}, errors {result['errors'] or 'none'}"
    )


def _send_cpu_line(result: dict) -> str:
    return (
        f"  {result['answered']}/{result['streams']} sends answered, {result['upstream_requests']} upstream "
        f"requests: {result['cpu_ms_per_send']:.2f} ms CPU per send (event loop "
        f"{result['main_thread_cpu_ms_per_send']:.2f}, threads "
        f"{result['other_threads_cpu_ms_per_send']:.2f}); "
        f"send service {_ms(result['send_service_cpu_ms']['p50'])} ms CPU p50 in its thread"
    )


def capacity_line(capacity: dict) -> str:
    k = capacity["procs"]
    if capacity["rps"] is None:
        return (
            f"Capacity, {k} process(es): none found (failed at {capacity['failed_rps']:g} sends/s) "
            f"with first token from Send p99 <= {capacity['first_token_limit_ms']:g} ms "
            f"and lag per delta p99 <= {capacity['lag_limit_ms']:g} ms"
        )
    relay = (
        f"; relay messages {capacity.get('relay_messages', 0):g} for {capacity.get('frames', 0):g} frames"
        if k > 1
        else ""
    )
    failed = f", fails at {capacity['failed_rps']:g}/s" if capacity["failed_rps"] is not None else ""
    return (
        f"Capacity, {k} process(es), {capacity['placement']} placement, send via {capacity['via']}: "
        f"{capacity['concurrency']:.0f} concurrent streams ({capacity['rps']:g} sends/s x "
        f"{capacity['reply_s']:.1f} s replies{failed}), "
        f"{capacity['concurrency_per_process']:.0f} per process, "
        f"with first token from Send p99 <= {capacity['first_token_limit_ms']:g} ms and lag per delta "
        f"p99 <= {capacity['lag_limit_ms']:g} ms{relay}"
    )


def _linearity(phases: list[dict]) -> dict | None:
    """Wire bytes against text bytes, fitted over the probe and the smallest main phase."""
    singles = [p for p in phases if p["wire_bytes_per_reply"] is not None and not p["cross_process"]]
    if len(singles) < 2:
        return None
    probe = [p for p in singles if p["label"].startswith("bytes probe")]
    mains = sorted(
        (p for p in singles if not p["label"].startswith("bytes probe")), key=lambda p: p["streams"]
    )
    if not probe or not mains:
        return None
    points = [(p["text_bytes_per_reply"], p["wire_bytes_per_reply"]) for p in (probe[0], mains[0])]
    fit = fit_line(points)
    if fit is None:
        return None
    return {"points": points, "slope_bytes_per_text_byte": fit[0], "fixed_overhead_bytes": fit[1]}


def _check_redis(url: str) -> None:
    """Redis answers, and no other run is using this database: its processes would route frames of
    their conversation ids (which start at 1 in every fresh database, as ours do) to our processes."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
        now = time.time()
        for key in client.scan_iter("chat:watchers:*", count=1000):
            if client.zcount(key, now, "+inf"):
                raise BenchError(
                    f"{url} has live watcher keys ({key.decode()}): another run or app is using this Redis "
                    "database; wait a minute (they expire) or pass --redis-url with another database number"
                )
    except redis.RedisError as exc:
        raise BenchError(f"cannot reach {url}: {exc}") from exc


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return ""


def _machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=procs.ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=procs.ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        # The app as measured may differ from the commit: say which tracked files were modified.
        info["modified_files"] = [line[3:] for line in status.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return info
