"""The benchmark run: processes, phases, measurements. `python -m bench --help` for the options."""

import asyncio
import json
import math
import os
import re
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
from bench.fakeapi import BenchFake, reply_chunks, request_text
from bench.metrics import delivery_lags, fit_line, html_shows_text, lost_and_duplicated, summary
from tests.fakes.fake_anthropic import last_user_text

_TAG_RE = re.compile(r"^bench (\S+) ")


@dataclass
class Config:
    streams: list[int]
    tokens: int = 200
    rate: float = 20.0
    page: bool = False
    page_messages: list[int] = field(default_factory=lambda: [10, 1000])
    page_requests: int = 20
    slow_clients: int = 0
    redis: bool = False
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
    out: Path | None = None
    quiet: bool = False


@dataclass
class Phase:
    key: str  # short, unique in the run; part of every request tag
    label: str
    n: int
    tokens: int
    rate: float
    cross: bool = False  # redis mode: send through one process, watch on the other
    baseline: bool = False
    slow: int = 0


def log(cfg: Config, message: str) -> None:
    if not cfg.quiet:
        print(message, file=sys.stderr, flush=True)


async def bounded(coros, limit: int) -> list:
    gate = asyncio.Semaphore(limit)

    async def one(coro):
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


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
        self.results: dict = {}

    # --- set-up ---------------------------------------------------------------------------------

    def phases(self) -> list[Phase]:
        cfg = self.cfg
        if not cfg.streams:
            return []
        count = 2 if cfg.redis else 1
        phases = [Phase("w", "warm-up", count, 10, 0)]
        if cfg.probe:
            short = max(8, cfg.tokens // 4)
            phases.append(Phase("s", f"bytes probe ({short} tokens)", 1, short, cfg.rate, cross=cfg.redis))
        for n in cfg.streams:
            phases.append(
                Phase(
                    f"n{n}",
                    f"N={n}",
                    n,
                    cfg.tokens,
                    cfg.rate,
                    cross=cfg.redis,
                    baseline=cfg.baseline,
                    slow=cfg.slow_clients,
                )
            )
        return phases

    async def setup(self, phases: list[Phase]) -> None:
        cfg = self.cfg
        self.fake.start()
        redis_url = cfg.redis_url if cfg.redis else ""
        if redis_url:
            _check_redis(redis_url)
        self.env = procs.app_env(self.data_dir, self.fake.base_url, redis_url)
        log(cfg, f"data dir {self.data_dir}; fake API at {self.fake.base_url}")
        await asyncio.to_thread(procs.run_python, ["manage.py", "migrate", "--noinput", "-v0"], self.env)
        await asyncio.to_thread(
            procs.run_python, ["manage.py", "collectstatic", "--noinput", "-v0"], self.env
        )
        users = max([p.n for p in phases] + [1])
        if phases:
            out = await asyncio.to_thread(
                procs.run_python,
                ["-m", "bench.dbsetup", "streams", "--users", str(users), "--per-user", str(len(phases))],
                self.env,
            )
            data = json.loads(out)
            self.users, self.password = data["users"], data["password"]
        for name in ("A", "B") if cfg.redis else ("A",):
            server = procs.AppServer(name, self.env, self.data_dir, cfg.server_switch_interval)
            self.servers.append(server)
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in self.servers))
        log(cfg, "daphne: " + ", ".join(f"{s.name} pid {s.pid} at {s.base_url}" for s in self.servers))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
        procs.stop_all()
        self.fake.stop()
        if not self.cfg.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def cookies_for(self, username: str, password: str) -> dict[str, str]:
        if username not in self.cookies:
            assert self.session is not None
            self.cookies[username] = await login(self.session, self.servers[0].base_url, username, password)
        return self.cookies[username]

    # --- measurement helpers ---------------------------------------------------------------------

    async def snapshot(self, reset: bool) -> dict:
        servers = []
        for server in self.servers:
            stats = await asyncio.to_thread(server.stats, reset)
            user, system = server.cpu_times()
            entry = {
                "cpu": user + system,
                "cpu_user": user,
                "cpu_sys": system,
                "stats": stats,
                **server.memory(),
            }
            if reset:
                procs.reset_peak_rss(server.pid)
                entry.update(server.memory())
            servers.append(entry)
        fake_thread = self.fake._thread
        return {
            "servers": servers,
            "harness_cpu": procs.proc_cpu_seconds(os.getpid()),
            "fake_cpu": procs.thread_cpu_seconds(os.getpid(), fake_thread.native_id) if fake_thread else 0.0,
            "time": time.monotonic(),
        }

    def fake_logs(self) -> dict:
        return {r.request_id: r for r in list(self.fake.replies)}

    # --- streaming phases --------------------------------------------------------------------------

    async def run_phase(self, index: int, phase: Phase) -> dict:
        cfg = self.cfg
        assert self.session is not None
        session = self.session
        stream_timeout = cfg.stream_timeout or (phase.tokens / phase.rate if phase.rate else 1) * 3 + 30
        first_frame_timeout = cfg.first_frame_timeout or 30 + 0.05 * phase.n
        users = self.users[: phase.n]
        cookies = await bounded([self.cookies_for(u["username"], self.password) for u in users], 16)
        clients = []
        for i, (user, jar) in enumerate(zip(users, cookies, strict=True)):
            send = self.servers[i % len(self.servers)]
            watch = self.servers[(i + 1) % len(self.servers)] if phase.cross else send
            clients.append(
                Client(i, user["username"], user["conversations"][index], send.base_url, watch.base_url, jar)
            )
        await bounded([c.open(session) for c in clients], 50)
        slow_sockets = []
        for j in range(phase.slow):
            owner = clients[j % len(clients)]
            slow_sockets.append(await open_slow_socket(owner.watch_base, owner.conversation, owner.cookies))
        await asyncio.sleep(0.3)  # every consumer has subscribed by now

        for server in self.servers:
            server.new_log_errors()
        before = await self.snapshot(reset=True)
        spy = self._start_py_spy(phase)
        own_lag: list[float] = []
        ticker = asyncio.create_task(_tick(own_lag))
        peak_threads = [0] * len(self.servers)
        sampler = asyncio.create_task(self._sample_threads(peak_threads))
        tags = [f"{phase.key}-{i}" for i in range(phase.n)]

        async def go(client: Client, tag: str, delay: float) -> None:
            if delay:
                await asyncio.sleep(delay)
            await client.send(session, request_text(tag, phase.tokens, phase.rate))
            await client.wait(first_frame_timeout, stream_timeout)

        ramp = cfg.ramp if phase.n > 1 else 0.0
        await asyncio.gather(
            *(
                go(c, tag, ramp * i / max(1, phase.n - 1))
                for i, (c, tag) in enumerate(zip(clients, tags, strict=True))
            )
        )
        await asyncio.sleep(0.2)
        ticker.cancel()
        sampler.cancel()
        after = await self.snapshot(reset=False)
        spy_file = self._stop_py_spy(spy)
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
        result = self.analyse(phase, clients, tags, before, after)
        result["harness"]["loop_lag_ms"] = summary([lag * 1000 for lag in own_lag])
        for entry, threads in zip(result["server"]["processes"], peak_threads, strict=True):
            entry["peak_threads"] = threads
        result["server"]["peak_threads"] = max(peak_threads)
        if undelivered:
            result["stored_status_of_undelivered"] = dict(stored)
        log_errors = Counter()
        for server in self.servers:
            log_errors.update(server.new_log_errors())
        if log_errors:
            result["server_log_errors"] = dict(log_errors.most_common(10))
        if phase.slow:
            result["slow_clients"] = {
                "count": phase.slow,
                "server_rss_mib_before_close": rss_with_slow,
                # what the kernel holds for them; anything beyond that sits in daphne's own buffers
                "kernel_send_queue_bytes": kernel_queued,
                "frame_bytes_each_was_sent": result["wire_bytes_per_reply"],
            }
        if spy_file:
            result["py_spy"] = spy_file
        return result

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

    def analyse(
        self, phase: Phase, clients: list[Client], tags: list[str], before: dict, after: dict
    ) -> dict:
        logs = self.fake_logs()
        first_token, ttft, post_ms, lags, fps, bytes_ratio = [], [], [], [], [], []
        reply_bytes, text_bytes, text_chars, kinds, frames_per_reply = [], [], [], Counter(), []
        tokens_per_frame, durations = [], []
        lost = duplicated = mismatched = no_upstream = recovered = 0
        raw = []
        statuses, errors = Counter(), Counter()
        gaps = resyncs = snapshots = 0
        tokens = 0
        for client, tag in zip(clients, tags, strict=True):
            log_entry = logs.get(f"req_bench_{tag}")
            view = client.view
            if client.error:
                errors[_error_kind(client.error)] += 1
            if client.post_done_at is not None and client.post_at is not None:
                post_ms.append((client.post_done_at - client.post_at) * 1000)
            if log_entry is None:
                no_upstream += 1
                continue
            sent = log_entry.text_sent
            tokens += len(log_entry.delta_times)
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
                if client.post_at is not None:
                    ttft.append((first - client.post_at) * 1000)
                chunks = reply_chunks(tag, phase.tokens)
                stream_lags = delivery_lags(view.deltas, [len(c) for c in chunks], log_entry.delta_times)
                lags += [lag * 1000 for lag in stream_lags]
                if self.cfg.raw:
                    zero = client.post_at or 0.0
                    raw.append(
                        {
                            "tag": tag,
                            "frames_at_ms": [round((t - zero) * 1000, 3) for t, _ in view.deltas],
                            "frame_ends": [end for _, end in view.deltas],
                            "fake_deltas_at_ms": [round((t - zero) * 1000, 3) for t in log_entry.delta_times],
                            "lags_ms": [round(lag * 1000, 3) for lag in stream_lags],
                        }
                    )
                if len(view.deltas) > 1:
                    span = view.deltas[-1][0] - view.deltas[0][0]
                    if span > 0:
                        fps.append((len(view.deltas) - 1) / span)
                tokens_per_frame.append(len(log_entry.delta_times) / len(view.deltas))
            if view.ended_at is not None and client.post_at is not None:
                durations.append(view.ended_at - client.post_at)
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
        lag_summaries, send_server_ms = [], []
        for b, a in zip(before["servers"], after["servers"], strict=True):
            cpu += a["cpu"] - b["cpu"]
            servers.append(
                {
                    "cpu_s": a["cpu"] - b["cpu"],
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
            for request in a["stats"]["requests"]:
                if re.fullmatch(r"/c/\d+/send/", request["path"]):
                    for key in ("statements", "write_statements", "write_transactions"):
                        turn[key] += request.get(key, 0)
                    send_server_ms.append(request["server_seconds"] * 1000)
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
            "ttft_from_post_ms": summary(ttft),
            "post_ms": summary(post_ms),
            "post_server_ms": summary(send_server_ms),
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
        }

    def _start_py_spy(self, phase: Phase) -> tuple[subprocess.Popen, str] | None:
        cfg = self.cfg
        if not cfg.py_spy or phase.n != max(cfg.streams):
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
        prefix = f"b{phase.n}"
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
            tokens += len(entry.delta_times)
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
        phases = self.phases()
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        await self.setup(phases)
        results = {
            "started": started,
            "config": {
                "streams": cfg.streams,
                "tokens": cfg.tokens,
                "rate": cfg.rate,
                "slow_clients": cfg.slow_clients,
                "redis": cfg.redis_url if cfg.redis else "",
                "ramp_s": cfg.ramp,
                "page": cfg.page,
                "note": cfg.note,
                "server_switch_interval": cfg.server_switch_interval,
            },
            "machine": _machine(),
            "phases": [],
            "page": None,
        }
        self.results = results
        for index, phase in enumerate(phases):
            log(
                cfg, f"phase {phase.label}: {phase.n} streams x {phase.tokens} tokens at {phase.rate:g} tok/s"
            )
            result = await self.run_phase(index, phase)
            for server in self.servers:
                if not server.alive():
                    raise BenchError(f"daphne {server.name} died:\n{server.log_tail()}")
            if phase.key == "w":
                continue
            if phase.baseline:
                result["baseline"] = await self.run_baseline(phase)
            results["phases"].append(result)
            log(cfg, _phase_line(result))
        if cfg.page:
            results["page"] = await self.run_page()
        results["bytes_linearity"] = _linearity(results["phases"])
        from bench.report import targets

        results["targets"] = targets(results)
        return results


async def _tick(samples: list[float], interval: float = 0.01) -> None:
    """The harness's own event-loop lag: if it is high, frame arrival stamps are late too."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        samples.append(max(0.0, loop.time() - start - interval))


def _error_kind(error: str) -> str:
    return re.sub(r"[\d.]+ s\b", "N s", error.split(":")[0])


def _phase_line(result: dict) -> str:
    ft = result["first_token_ms"]
    lag = result["delivery_lag_ms"]

    def ms(v):
        return "-" if v is None else f"{v:.1f}"

    return (
        f"  completed {result['completed']}/{result['streams']}, first token p50 {ms(ft['p50'])} ms "
        f"p99 {ms(ft['p99'])} ms, lag p99 {ms(lag['p99'])} ms, lost {result['lost_chars']} "
        f"dup {result['duplicated_chars']}, errors {result['errors'] or 'none'}"
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
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise BenchError(f"--redis: cannot reach {url}: {exc}") from exc


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
