"""The burst phases: N tabs open, N sends at once, every reply streamed and measured; and sends only."""

import asyncio
import time
from collections import Counter

from bench import procs
from bench.analysis import (
    analyse,
    error_kind,
    other_processes_cpu,
    send_records,
    send_server_ms,
    window_metrics,
)
from bench.clients import Browser, Client, bounded, open_slow_socket
from bench.config import Config, Phase, reply_seconds
from bench.fakeapi import request_text
from bench.metrics import summary
from bench.stack import Stack
from bench.window import Window, snapshot, start_py_spy, stop_py_spy, wait_quiet


class Bursts:
    """Runs the phases that `bench.config.plan` lists, on the current round's servers."""

    def __init__(self, cfg: Config, stack: Stack, browser: Browser):
        self.cfg = cfg
        self.stack = stack
        self.browser = browser

    async def _open_tabs(self, index: int, phase: Phase) -> list[Client]:
        """The phase's tabs, logged in, then (on a quiet machine) their sockets open."""
        assignments = self.browser.assignments(index, phase.n)
        clients = await self.browser.tabs(assignments, self.stack.servers, phase.cross)
        await wait_quiet(self.stack)
        await bounded([c.open(self.browser.session) for c in clients], 50)
        return clients

    async def streams(self, index: int, phase: Phase) -> dict:
        """N replies streamed at once (spread over --ramp seconds), with --slow-clients beside them."""
        cfg, stack, session = self.cfg, self.stack, self.browser.session
        stream_timeout = cfg.stream_timeout or reply_seconds(phase.tokens, phase.rate) * 3 + 30
        first_frame_timeout = cfg.first_frame_timeout or 30 + 0.05 * phase.n
        clients = await self._open_tabs(index, phase)
        slow_sockets = []
        for j in range(phase.slow):
            owner = clients[j % len(clients)]
            slow_sockets.append(await open_slow_socket(owner.watch_base, owner.conversation, owner.cookies))
        await asyncio.sleep(0.3)  # every consumer has subscribed by now

        stack.new_log_errors()  # what was logged before this phase
        window = await Window.open(stack, phase)
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
        after = await window.close()
        # Replies a client never saw end: what does the watching server have stored for them?
        undelivered = [c for c in clients if c.error and c.reply_id is not None]
        stored = await self.browser.stored_statuses(undelivered)
        rss_with_slow = [s.memory()["rss_mib"] for s in stack.servers]
        kernel_queued = sum(
            procs.tcp_send_queues(server.port, {sock.getsockname()[1] for sock in slow_sockets})
            for server in stack.servers
        )
        for sock in slow_sockets:
            sock.close()
        await asyncio.gather(*(c.close() for c in clients))
        result = measured(stack, phase, clients, tags, window, after)
        if undelivered:
            result["stored_status_of_undelivered"] = dict(stored)
        stack.note_log_errors(result)
        if phase.slow:
            result["slow_clients"] = {
                "count": phase.slow,
                "server_rss_mib_before_close": rss_with_slow,
                # what the kernel holds for them; anything beyond that sits in daphne's own buffers
                "kernel_send_queue_bytes": kernel_queued,
                "frame_bytes_each_was_sent": result["wire_bytes_per_reply"],
            }
        return result

    async def sends_only(self, index: int, phase: Phase) -> dict:
        """A burst of sends whose replies the fake holds (no response at all): the server's CPU over
        the window is what accepting the sends cost, up to each reply's request reaching the fake."""
        stack, fake, session = self.stack, self.stack.fake, self.browser.session
        clients = await self._open_tabs(index, phase)
        await asyncio.sleep(0.3)
        stack.new_log_errors()  # what was logged before this phase
        tags = [f"{phase.key}-{i}" for i in range(phase.n)]
        held_before = fake.holds
        before = await snapshot(stack, reset=True)
        spy = start_py_spy(stack, phase)
        await asyncio.gather(
            *(
                c.send(session, request_text(tag, 1, 0, hold=60), phase.via)
                for c, tag in zip(clients, tags, strict=True)
            )
        )
        # Until every reply's request reached the fake (and is held there), then a moment to settle.
        deadline = time.monotonic() + 30 + 0.05 * phase.n
        while fake.holds - held_before < phase.n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        reached = time.monotonic()
        await asyncio.sleep(0.1)
        after = await snapshot(stack, reset=False)
        spy_file = stop_py_spy(spy)
        fake.release_held()
        await asyncio.gather(*(c.wait(30, 30) for c in clients))
        await asyncio.gather(*(c.close() for c in clients))
        sent = [c.sent_at for c in clients if c.sent_at is not None]
        burst_s = (reached - min(sent)) if sent else None
        result = self._send_cpu(phase, clients, before, after, fake.holds - held_before, burst_s)
        if spy_file:
            result["py_spy"] = spy_file
        stack.note_log_errors(result)
        return result

    def _send_cpu(
        self,
        phase: Phase,
        clients: list[Client],
        before: dict,
        after: dict,
        requests: int,
        burst_s: float | None,
    ) -> dict:
        pairs = list(zip(after["servers"], before["servers"], strict=True))
        cpu = sum(a["cpu"] - b["cpu"] for a, b in pairs)
        main = sum(a["cpu_main_thread"] - b["cpu_main_thread"] for a, b in pairs)
        n = phase.n
        sends = send_records(after)
        metrics = window_metrics(before, after)
        return {
            "label": phase.label,
            "kind": "send-cpu",
            "streams": n,
            "via": phase.via,
            "procs": self.stack.process_count,
            "answered": sum(1 for c in clients if c.reply_id is not None),
            "upstream_requests": requests,
            "errors": dict(Counter(error_kind(c.error) for c in clients if c.error)),
            "burst_s": burst_s,
            "window_s": after["time"] - before["time"],
            # Heartbeats of the held replies that fell in the window (CHAT_CHECKPOINT_INTERVAL after
            # each start): not part of a send, so they should be 0 here.
            "checkpoint_writes": sum(p["db_write_transactions"]["checkpoint"] for p in metrics["processes"]),
            "cpu_s": cpu,
            "other_processes_cpu_s": other_processes_cpu(before, after, cpu),
            "cpu_ms_per_send": cpu / n * 1000,
            "main_thread_cpu_ms_per_send": main / n * 1000,
            "other_threads_cpu_ms_per_send": (cpu - main) / n * 1000,
            "send_answer_ms": summary(
                [(c.answered_at - c.sent_at) * 1000 for c in clients if c.answered_at and c.sent_at]
            ),
            "send_server_ms": summary(send_server_ms(after, phase.via)),
            "send_service_ms": summary([r["seconds"] * 1000 for r in sends]),
            "send_service_cpu_ms": summary([r["cpu_seconds"] * 1000 for r in sends]),
            "send_service_statements": summary([r.get("statements", 0) for r in sends]),
            "metrics": metrics,
        }


def measured(
    stack: Stack, phase: Phase, clients: list[Client], tags: list[str], window: Window, after: dict
) -> dict:
    """The phase's result (bench.analysis) with its window's own samples."""
    result = analyse(
        phase,
        clients,
        tags,
        window.before,
        after,
        logs=stack.fake.logs(),
        server_names=[s.name for s in stack.servers],
        raw=stack.cfg.raw,
    )
    window.record(result)
    return result
