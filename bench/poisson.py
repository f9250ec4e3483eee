"""Poisson arrivals: sends at a rate for a duration, each on its own fresh tab; and the capacity search."""

import asyncio
import json
import math
import random
import time

import aiohttp

from bench.analysis import mean_concurrency
from bench.clients import Browser, Client
from bench.config import Config, Phase, log, reply_seconds
from bench.fakeapi import request_text
from bench.phases import measured
from bench.report import capacity_line, ms, phase_line
from bench.stack import Stack
from bench.window import Window, wait_quiet

POISSON_USERS = 100  # Poisson arrivals are spread over this many users (each send its own conversation)


class Poisson:
    """Poisson runs on the current round's servers; trials are numbered across the run."""

    def __init__(self, cfg: Config, stack: Stack, browser: Browser):
        self.cfg = cfg
        self.stack = stack
        self.browser = browser
        self.trials = 0

    def _phase(self, rps: float, duration: float) -> tuple[Phase, list[float]]:
        """The trial's phase, and its sends' moments (seconds from its start)."""
        cfg, k = self.cfg, self.stack.process_count
        prefix, label = cfg.round_prefix(k, self.stack.server_kind)
        key = f"{prefix}p{self.trials}"
        # A Poisson process conditioned on its count: exactly round(rps x duration) arrivals, at
        # uniformly random moments (exponential gaps, as bursty as Poisson), so that runs at nearby
        # rates are not told apart by the luck of the draw (+-sqrt(n) sends in 30 s otherwise).
        rng = random.Random(f"poisson {rps:g} {duration:g} {self.trials}")
        offsets = sorted(rng.uniform(0, duration) for _ in range(max(1, round(rps * duration))))
        phase = Phase(
            key,
            f"{label}Poisson {rps:g}/s",
            len(offsets),
            cfg.tokens,
            cfg.rate,
            cross=cfg.cross(k),
            via=cfg.via(k),
            words=cfg.words,
            kind="poisson",
            rps=rps,
            duration=duration,
            spy=bool(cfg.py_spy) and not cfg.capacity,
        )
        return phase, offsets

    async def new_conversations(self, count: int) -> list[tuple[str, int]]:
        """`count` fresh conversations (each with one earlier exchange), spread over a pool of users."""
        users = max(1, min(count, POISSON_USERS))
        per_user = math.ceil(count / users)
        out = await self.stack.python(
            ["-m", "bench.dbsetup", "streams", "--users", str(users), "--per-user", str(per_user)]
        )
        data = json.loads(out)
        return [
            (data["users"][i % users]["username"], data["users"][i % users]["conversations"][i // users])
            for i in range(count)
        ]

    async def run(self, rps: float, duration: float) -> dict:
        cfg, stack, session = self.cfg, self.stack, self.browser.session
        self.trials += 1
        phase, offsets = self._phase(rps, duration)
        pace = f"{phase.tokens} tokens at {phase.rate:g} tok/s"
        where = f"{stack.process_count} {stack.server_kind} process(es){cfg.pin_text()}"
        log(cfg, f"{phase.label}: {phase.n} sends over {duration:g} s, {pace}, {where}")
        assignments = await self.new_conversations(phase.n) if phase.n else []
        clients = await self.browser.tabs(assignments, stack.servers, phase.cross)
        tags = [f"{phase.key}-{i}" for i in range(phase.n)]
        stream_timeout = cfg.stream_timeout or reply_seconds(phase.tokens, phase.rate) * 3 + 30
        first_frame_timeout = cfg.first_frame_timeout or 30.0
        await wait_quiet(stack)
        stack.new_log_errors()  # what was logged before this phase
        window = await Window.open(stack, phase)
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
        after = await window.close()
        await asyncio.gather(*(c.close() for c in clients))
        undelivered = [c for c in clients if c.error and c.reply_id is not None]
        stored = await self.browser.stored_statuses(undelivered)
        result = measured(stack, phase, clients, tags, window, after)
        if undelivered:
            result["stored_status_of_undelivered"] = dict(stored)
            result["undelivered"] = [self._undelivered(c) for c in undelivered]
        stack.note_log_errors(result)
        # Concurrency: nominal (Little's law with the nominal reply length) and as the fake saw it,
        # averaged over the steady part of the window (after the first reply's length).
        length = reply_seconds(phase.tokens, phase.rate)
        result["poisson"] = {
            "rps": rps,
            "duration_s": duration,
            "arrivals": phase.n,
            "reply_s": length,
            "nominal_concurrency": rps * length,
            "mean_concurrency": mean_concurrency(
                stack.fake.logs(), tags, start_mono + min(length, duration / 2), start_mono + duration
            ),
        }
        result["poisson"]["pass"], result["poisson"]["why"] = verdict(cfg, result)
        log(
            cfg,
            phase_line(result)
            + f"; {'PASS' if result['poisson']['pass'] else 'FAIL'} {result['poisson']['why']}",
        )
        return result

    def _undelivered(self, client: Client) -> dict:
        view = client.view
        return {
            "server": next(s.name for s in self.stack.servers if s.base_url == client.watch_base),
            "reply": client.reply_id,
            "error": client.error,
            "frames": dict(view.frames) if view else {},
            "last_seq": view.last_seq if view else None,
            "gaps": view.gaps if view else None,
            "resyncs": client.resyncs_sent,
            "closed_code": client.closed_code,
        }

    async def capacity(self) -> dict:
        """Doubling, then bisecting, the Poisson rate: the largest that passes (`verdict`)."""
        cfg = self.cfg
        rps = cfg.rps or 2.0
        lo = hi = None
        trials = []
        discarded = []
        while len(trials) < cfg.capacity_trials:
            result = await self.run(rps, cfg.duration)
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
        capacity = self._capacity(lo, hi, trials)
        log(cfg, capacity_line(capacity))
        return {"capacity": capacity, "trials": trials, "discarded": discarded}

    def _capacity(self, lo: float | None, hi: float | None, trials: list[dict]) -> dict:
        cfg, k = self.cfg, self.stack.process_count
        length = reply_seconds(cfg.tokens, cfg.rate)
        best = next((t for t in trials if t["poisson"]["rps"] == lo), None) if lo is not None else None
        capacity = {
            "procs": k,
            "asgi_server": self.stack.server_kind,
            "pin": cfg.pin(),
            "placement": cfg.placement if k > 1 else "local",
            "via": cfg.via(k),
            "first_token_limit_ms": cfg.capacity_first_token_ms,
            "lag_limit_ms": cfg.capacity_lag_ms,
            "rps": lo,
            "failed_rps": hi,
            "reply_s": length,
            "concurrency": lo * length if lo is not None else 0.0,
            "concurrency_per_process": (lo * length / k) if lo is not None else 0.0,
            "mean_concurrency_measured": best["poisson"]["mean_concurrency"] if best else None,
            "trials": [t["label"] for t in trials],
        }
        if best is not None:
            capacity["relay_messages"] = best["relay"]["messages"]
            capacity["frames"] = best["relay"]["frames"]
        return capacity


def verdict(cfg: Config, result: dict) -> tuple[bool, str]:
    """Whether a Poisson run stayed within the capacity limits, and why not (or its figures)."""
    why = []
    if result["completed"] < result["streams"]:
        why.append(f"{result['streams'] - result['completed']} not completed")
    if result["lost_chars"] or result["duplicated_chars"]:
        why.append(f"{result['lost_chars']} lost / {result['duplicated_chars']} duplicated chars")
    ft = result["ttft_from_send_ms"]["p99"]
    lag = result["delta_lag_ms"]["p99"]
    if ft is None or ft > cfg.capacity_first_token_ms:
        why.append(f"first token from Send p99 {ms(ft)} > {cfg.capacity_first_token_ms:g} ms")
    if lag is None or lag > cfg.capacity_lag_ms:
        why.append(f"lag per delta p99 {ms(lag)} > {cfg.capacity_lag_ms:g} ms")
    return not why, "; ".join(why) or (f"first token p99 {ms(ft)} ms, lag p99 {ms(lag)} ms")
