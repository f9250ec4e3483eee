"""A phase's result: its tabs' frames, the fake's logs and the servers' counters over its window."""

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from bench.clients import Client
from bench.config import Phase
from bench.fakeapi import chunk_token_counts, reply_chunks
from bench.metrics import (
    delivery_lags,
    delta_lags,
    fit_line,
    histogram_delta,
    html_shows_text,
    lost_and_duplicated,
    metric_delta,
    summary,
)
from fakes import ReplyLog

_SEND_PATH = re.compile(r"/c/\d+/send/")
_TURN_KEYS = ("statements", "write_statements", "write_transactions")


@dataclass
class _Streams:
    """Every tab's stream against what the fake sent it, summed over the phase."""

    first_token: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    per_delta: list[float] = field(default_factory=list)
    fps: list[float] = field(default_factory=list)
    bytes_ratio: list[float] = field(default_factory=list)
    reply_bytes: list[int] = field(default_factory=list)
    text_bytes: list[int] = field(default_factory=list)
    text_chars: list[int] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    frames_per_reply: list[int] = field(default_factory=list)
    tokens_per_frame: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    raw: list[dict] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    lost: int = 0
    duplicated: int = 0
    mismatched: int = 0
    no_upstream: int = 0
    recovered: int = 0
    gaps: int = 0
    resyncs: int = 0
    snapshots: int = 0
    tokens: int = 0
    deltas: int = 0

    def add(self, client: Client, tag: str, entry: ReplyLog | None, phase: Phase, raw: bool) -> None:
        view = client.view
        if client.error:
            self.errors[error_kind(client.error)] += 1
        if client.answered_at is not None and client.sent_at is not None:
            self.answer_ms.append((client.answered_at - client.sent_at) * 1000)
        if entry is None:
            self.no_upstream += 1
            return
        sent = entry.text_sent
        self.deltas += len(entry.delta_times)
        self.tokens += sum(chunk_token_counts(tag, phase.tokens, phase.words)[: len(entry.delta_times)])
        lc, dc = lost_and_duplicated(sent, view.text if view else "")
        self.lost, self.duplicated = self.lost + lc, self.duplicated + dc
        self.mismatched += bool(lc or dc)
        if view is None:
            return
        if (lc or dc) and view.final_html and html_shows_text(view.final_html, sent):
            self.recovered += 1
        self.statuses[view.final_status or "no end frame"] += 1
        self.gaps, self.resyncs, self.snapshots = (
            self.gaps + view.gaps,
            self.resyncs + client.resyncs_sent,
            self.snapshots + view.snapshots,
        )
        if view.deltas:
            self._timing(client, tag, entry, phase, raw)
        if view.ended_at is not None and client.sent_at is not None:
            self.durations.append(view.ended_at - client.sent_at)
        if sent:
            self.reply_bytes.append(view.bytes)
            self.text_bytes.append(len(sent.encode()))
            self.text_chars.append(len(sent))
            self.bytes_ratio.append(view.bytes / len(sent.encode()))
            self.kinds.update(view.bytes_by_kind)
            self.frames_per_reply.append(sum(view.frames.values()))

    def _timing(self, client: Client, tag: str, entry: ReplyLog, phase: Phase, raw: bool) -> None:
        view = client.view
        assert view is not None
        first = view.deltas[0][0]
        if entry.first_delta_at is not None:
            self.first_token.append((first - entry.first_delta_at) * 1000)
        if client.sent_at is not None:
            self.ttft.append((first - client.sent_at) * 1000)
        lengths = [len(c) for c in reply_chunks(tag, phase.tokens, phase.words)]
        stream_lags = delivery_lags(view.deltas, lengths, entry.delta_times)
        self.lags += [lag * 1000 for lag in stream_lags]
        stream_delta_lags = delta_lags(view.spans, lengths, entry.delta_times)
        self.per_delta += [lag * 1000 for lag in stream_delta_lags]
        if raw:
            zero = client.sent_at or 0.0
            self.raw.append(
                {
                    "tag": tag,
                    "frames_at_ms": [round((t - zero) * 1000, 3) for t, _ in view.deltas],
                    "frame_ends": [end for _, end in view.deltas],
                    "fake_deltas_at_ms": [round((t - zero) * 1000, 3) for t in entry.delta_times],
                    "lags_ms": [round(lag * 1000, 3) for lag in stream_lags],
                    "delta_lags_ms": [round(lag * 1000, 3) for lag in stream_delta_lags],
                }
            )
        if len(view.deltas) > 1:
            span = view.deltas[-1][0] - view.deltas[0][0]
            if span > 0:
                self.fps.append((len(view.deltas) - 1) / span)
        self.tokens_per_frame.append(len(entry.delta_times) / len(view.deltas))


def _fake_figures(logs: dict[str, ReplyLog], tags: list[str]) -> tuple[int, list[float], list[float]]:
    """What the fake emitted: the most replies streaming at once, each reply's seconds and rate."""
    entries = [e for tag in tags if (e := logs.get(f"req_bench_{tag}")) is not None]
    edges = []
    for entry in entries:
        if entry.delta_times:
            edges += [(entry.delta_times[0], 1), (entry.delta_times[-1], -1)]
    seconds = [e.delta_times[-1] - e.delta_times[0] for e in entries if len(e.delta_times) > 1]
    rates = [
        (len(e.delta_times) - 1) / (e.delta_times[-1] - e.delta_times[0])
        for e in entries
        if len(e.delta_times) > 1 and e.delta_times[-1] > e.delta_times[0]
    ]
    concurrent = peak = 0
    for _, step in sorted(edges):
        concurrent += step
        peak = max(peak, concurrent)
    return peak, seconds, rates


def _server_entry(b: dict, a: dict) -> dict:
    """One server over the window."""
    return {
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


def _db_counts(before: dict, after: dict) -> tuple[Counter, Counter, Counter]:
    """Statement counts over the window: in all, writes by table, and the user turn's share (a POST's
    own counter, which includes its send service's statements, or a websocket send's counter)."""
    totals, tables, turn = Counter(), Counter(), Counter()
    for b, a in zip(before["servers"], after["servers"], strict=True):
        for key, value in a["stats"]["totals"].items():
            totals[key] += value - b["stats"]["totals"].get(key, 0)
        for key, value in a["stats"]["write_tables"].items():
            tables[key] += value - b["stats"]["write_tables"].get(key, 0)
        for request in a["stats"]["requests"]:
            if _SEND_PATH.fullmatch(request["path"]):
                for key in _TURN_KEYS:
                    turn[key] += request.get(key, 0)
        for record in a["stats"].get("sends", []):
            if record["path"] == "websocket":
                for key in _TURN_KEYS:
                    turn[key] += record.get(key, 0)
    return totals, tables, turn


def _db(before: dict, after: dict, replies: int, durations: list[float]) -> dict:
    totals, tables, turn = _db_counts(before, after)
    # One text block per reply; a checkpoint per 2 s of the reply's life (POST to end frame).
    target = [1 + 1 + math.floor(d / 2) for d in durations]
    return {
        "replies": replies,
        "statements_per_reply": totals["statements"] / replies,
        "write_statements_per_reply": totals["write_statements"] / replies,
        "write_transactions_per_reply": totals["write_transactions"] / replies,
        "user_turn_write_transactions_per_reply": turn["write_transactions"] / replies,
        "user_turn_write_statements_per_reply": turn["write_statements"] / replies,
        "generation_write_transactions_per_reply": (totals["write_transactions"] - turn["write_transactions"])
        / replies,
        "generation_write_statements_per_reply": (totals["write_statements"] - turn["write_statements"])
        / replies,
        "target_generation_writes_per_reply": statistics.mean(target) if target else None,
        "noop_write_statements": totals["noop_write_statements"],
        "writes_per_reply_by_table": {k: v / replies for k, v in sorted(tables.items()) if v},
    }


def _relay(metrics: dict, server_names: list[str]) -> dict:
    messages = sum(p["relay_messages"] for p in metrics["processes"])
    frames = sum(p["frames"] for p in metrics["processes"])
    return {
        "messages": messages,
        "frames": frames,
        "messages_per_frame": messages / frames if frames else None,
        "per_process": [
            {"server": name, "relay_messages": p["relay_messages"], "frames": p["frames"]}
            for name, p in zip(server_names, metrics["processes"], strict=True)
        ],
    }


def analyse(
    phase: Phase,
    clients: list[Client],
    tags: list[str],
    before: dict,
    after: dict,
    *,
    logs: dict[str, ReplyLog],
    server_names: list[str],
    raw: bool,
) -> dict:
    """The phase's result (the report's columns and the JSON's phase entries)."""
    streams = _Streams()
    for client, tag in zip(clients, tags, strict=True):
        streams.add(client, tag, logs.get(f"req_bench_{tag}"), phase, raw)
    peak_concurrent, fake_seconds, fake_rates = _fake_figures(logs, tags)
    servers = [_server_entry(b, a) for b, a in zip(before["servers"], after["servers"], strict=True)]
    cpu = sum(s["cpu_s"] for s in servers)
    metrics = window_metrics(before, after)
    sends = send_records(after)
    replies = max(1, sum(1 for c in clients if c.reply_id is not None))
    reply_bytes = streams.reply_bytes
    return {
        "label": phase.label,
        "streams": phase.n,
        "tokens_per_reply": phase.tokens,
        "rate_tokens_per_s": phase.rate,
        "cross_process": phase.cross,
        "kind": phase.kind,
        "via": phase.via,
        "words": phase.words,
        "procs": len(server_names),
        "completed": sum(1 for c in clients if c.view is not None and c.view.ended_at is not None),
        "peak_concurrent_streams": peak_concurrent,
        # What the fake actually emitted: below --rate means it (or the machine) could not keep up.
        "fake_stream_s": summary(fake_seconds),
        "fake_rate_tokens_per_s": summary(fake_rates),
        "errors": dict(streams.errors),
        "final_status": dict(streams.statuses),
        "no_upstream_request": streams.no_upstream,
        "wall_s": after["time"] - before["time"],
        "first_token_ms": summary(streams.first_token),
        "ttft_from_send_ms": summary(streams.ttft),
        "send_answer_ms": summary(streams.answer_ms),
        "send_server_ms": summary(send_server_ms(after, phase.via)),
        "send_service_ms": summary([r["seconds"] * 1000 for r in sends]),
        "send_service_cpu_ms": summary([r["cpu_seconds"] * 1000 for r in sends]),
        "delta_lag_ms": summary(streams.per_delta),
        "delivery_lag_ms": summary(streams.lags),
        "frames_per_s_per_stream": summary(streams.fps),
        "tokens_per_d_frame": summary(streams.tokens_per_frame),
        "frames_per_reply": summary(streams.frames_per_reply),
        "reply_duration_s": summary(streams.durations),
        "wire_bytes_per_reply": statistics.mean(reply_bytes) if reply_bytes else None,
        "wire_bytes_per_reply_by_frame_kind": {
            k: v / max(1, len(reply_bytes)) for k, v in sorted(streams.kinds.items())
        },
        "text_bytes_per_reply": statistics.mean(streams.text_bytes) if streams.text_bytes else None,
        "text_chars_per_reply": statistics.mean(streams.text_chars) if streams.text_chars else None,
        "wire_bytes_per_text_byte": statistics.mean(streams.bytes_ratio) if streams.bytes_ratio else None,
        "lost_chars": streams.lost,
        "duplicated_chars": streams.duplicated,
        "mismatched_streams": streams.mismatched,
        # of those, replies whose end frame (swapped in by the browser) still shows all the text
        "mismatched_but_end_frame_complete": streams.recovered,
        "gaps": streams.gaps,
        "resyncs": streams.resyncs,
        "snapshots": streams.snapshots,
        "tokens": streams.tokens,
        "deltas": streams.deltas,
        "relay": _relay(metrics, server_names),
        "metrics": metrics,
        "server": {
            "processes": servers,
            "cpu_s": cpu,
            "cpu_s_per_1k_tokens": cpu / (streams.tokens / 1000) if streams.tokens else None,
            "sqlite_begin_wait_p99_ms": max((s["sqlite_begin_wait_ms"].get("p99") or 0) for s in servers),
            "sqlite_begin_wait_seconds": sum(s["sqlite_begin_wait_seconds"] for s in servers),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in servers),
            "loop_lag_p99_ms": max((s["loop_lag_ms"].get("p99_ms") or 0) for s in servers),
        },
        "db": _db(before, after, replies, streams.durations),
        **({"raw_streams": streams.raw} if raw else {}),
        "harness": {
            "cpu_s": after["harness_cpu"] - before["harness_cpu"],
            "fake_api_thread_cpu_s": after["fake_cpu"] - before["fake_cpu"],
        },
        # CPU that neither the servers nor the harness used: other processes on the machine
        # (anything above ~0.1 s per 10 s means the figures were measured on a busy machine).
        "other_processes_cpu_s": other_processes_cpu(before, after, cpu),
        "loadavg": _loadavg(),
    }


def other_processes_cpu(before: dict, after: dict, server_cpu: float) -> float:
    """CPU seconds the machine spent over the window beyond the servers' and the harness's."""
    harness = after["harness_cpu"] - before["harness_cpu"]
    return max(0.0, (after["machine_cpu"] - before["machine_cpu"]) - server_cpu - harness)


def send_records(after: dict) -> list[dict]:
    """The send service's calls in the window (the stats were reset at its start)."""
    return [r for s in after["servers"] for r in s["stats"].get("sends", []) if r.get("ok")]


def send_server_ms(after: dict, via: str) -> list[float]:
    """Server time of each send: its frame to its `a` frame, or its POST to the response's end."""
    out = []
    for s in after["servers"]:
        if via == "ws":
            out += [r["server_seconds"] * 1000 for r in s["stats"].get("ws_sends", []) if r["accepted"]]
        else:
            out += [
                r["server_seconds"] * 1000
                for r in s["stats"]["requests"]
                if _SEND_PATH.fullmatch(r["path"]) and r["status"] == 200
            ]
    return out


def window_metrics(before: dict, after: dict) -> dict:
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


def mean_concurrency(logs: dict[str, ReplyLog], tags: list[str], start: float, end: float) -> float | None:
    """Replies streaming from the fake at once, averaged over [start, end]."""
    if end <= start:
        return None
    busy = 0.0
    for tag in tags:
        entry = logs.get(f"req_bench_{tag}")
        if entry is None or not entry.delta_times:
            continue
        a, b = max(start, entry.delta_times[0]), min(end, entry.delta_times[-1])
        busy += max(0.0, b - a)
    return busy / (end - start)


def linearity(phases: list[dict]) -> dict | None:
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


def error_kind(error: str) -> str:
    return re.sub(r"[\d.]+ s\b", "N s", error.split(":")[0])


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return ""
