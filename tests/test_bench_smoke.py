"""The benchmark harness end to end, tiny: 2 streams of a short reply sent over the socket, a
sends-only burst of 2, a Poisson run of about 4 sends, plus a small page run; the same streams on
daphne then uvicorn in one run; and, where taskset and two CPUs are, a pinned run (--pin).

Runs `python -m bench` as a subprocess (the app runs under its own daphne, on its own temporary
database), then checks that the report has every field and that no character was lost or
duplicated. It never asserts speed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import pin_spec
from bench.fakeapi import chunk_token_counts, parse_request, reply_chunks, request_text
from bench.metrics import (
    delivery_lags,
    delta_lags,
    histogram_delta,
    html_shows_text,
    lost_and_duplicated,
    parse_exposition,
    percentile,
)

# bench's app processes drop DATABASE_URL and REDIS_URL (bench/procs.py): the same run on either pass.
pytestmark = pytest.mark.standalone

ROOT = Path(__file__).resolve().parent.parent


def test_lost_and_duplicated_counts_characters():
    assert lost_and_duplicated("hello world", "hello world") == (0, 0)
    assert lost_and_duplicated("hello world", "hello wld") == (2, 0)
    assert lost_and_duplicated("hello world", "hello world world") == (0, 6)


def test_delivery_lag_maps_frames_to_the_last_delta_they_complete():
    # deltas "ab" at t=1.0, "cde" at t=2.0, "f" at t=3.0; a frame carrying "abcde" arrives at 2.5
    lags = delivery_lags([(2.5, 5), (3.25, 6)], [2, 3, 1], [1.0, 2.0, 3.0])
    assert lags == [0.5, 0.25]
    assert percentile([1, 2, 3, 4], 50) == 2.5


def test_delta_lag_is_measured_to_the_frame_carrying_its_last_character():
    # deltas "ab" (t=1), "cde" (t=2), "f" (t=3); frames "abcd" at 2.5 and "ef" at 3.5
    lags = delta_lags([(2.5, 0, 4), (3.5, 4, 6)], [2, 3, 1], [1.0, 2.0, 3.0])
    assert lags == [1.5, 1.5, 0.5]
    # a delta that came in a snapshot (no d frame carries it) has no lag
    assert delta_lags([(3.5, 5, 6)], [2, 3, 1], [1.0, 2.0, 3.0]) == [0.5]


def test_word_deltas_keep_the_text_and_the_token_count():
    tokens = reply_chunks("x-1", 400)
    words = reply_chunks("x-1", 400, words=True)
    assert "".join(words) == "".join(tokens) and len(words) < len(tokens)
    assert sum(chunk_token_counts("x-1", 400, words=True)) == 400
    assert all(1 <= n <= 4 for n in chunk_token_counts("x-1", 400, words=True))
    request = parse_request(request_text("x-1", 400, 50, words=True, hold=2))
    assert (request.tag, request.tokens, request.rate, request.words, request.hold) == (
        "x-1",
        400,
        50,
        True,
        2,
    )


def test_metrics_histogram_deltas():
    before = parse_exposition(
        'h_bucket{path="ws",le="0.01"} 1\nh_bucket{path="ws",le="+Inf"} 1\nh_count{path="ws"} 1\n'
        'h_sum{path="ws"} 0.005\n'
    )
    after = parse_exposition(
        'h_bucket{path="ws",le="0.01"} 3\nh_bucket{path="ws",le="+Inf"} 5\nh_count{path="ws"} 5\n'
        'h_sum{path="ws"} 0.105\n'
    )
    delta = histogram_delta(before, after, "h", path="ws")
    assert delta["count"] == 4 and abs(delta["mean_ms"] - 25) < 1e-9
    assert delta["p50_ms"] == 10.0


def test_end_frame_text_check_reads_rendered_html():
    text = "Hi *there*.\n\n```python\nx = f(1)  # <b>\n```\n"
    rendered = '<p>Hi <em>there</em>.</p><pre><span class="n">x</span> = <span>f(1)</span>  # &lt;b&gt;</pre>'
    assert html_shows_text(rendered, text.replace("*", ""))
    assert not html_shows_text("<p>Hi</p>", text)


def _run(tmp_path, name: str, *args: str, timeout: float = 120) -> tuple[str, dict]:
    out = tmp_path / f"{name}.json"
    command = [sys.executable, "-m", "bench", *args, "--out", str(out), "--quiet"]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout, json.loads(out.read_text())


def _streamed_well(phase: dict, streams: int) -> None:
    assert phase["completed"] == streams, phase["errors"]
    assert phase["lost_chars"] == 0
    assert phase["duplicated_chars"] == 0
    for summary in ("first_token_ms", "ttft_from_send_ms", "delta_lag_ms", "delivery_lag_ms"):
        assert phase[summary]["n"] > 0 and phase[summary]["p50"] is not None and "p99" in phase[summary]
    assert phase["send_server_ms"]["n"] == streams
    assert phase["relay"]["messages"] == 0 and phase["relay"]["frames"] > 0


def test_bench_runs_and_reports(tmp_path):
    """Sends over the socket (the default), a sends-only burst, a tiny Poisson run, and the page."""
    stdout, report = _run(
        tmp_path,
        "bench",
        "--streams",
        "2",
        "--tokens",
        "16",
        "--rate",
        "100",
        "--slow-clients",
        "1",
        "--send-cpu",
        "2",
        "--arrivals",
        "poisson",
        "--rps",
        "2",
        "--duration",
        "2",
        "--page",
        "--page-messages",
        "6",
        "--page-requests",
        "3",
    )
    assert "first token from Send" in stdout

    phase = next(p for p in report["phases"] if p["streams"] == 2)
    assert phase["via"] == "ws"
    _streamed_well(phase, 2)
    assert phase["frames_per_s_per_stream"]["n"] > 0
    assert phase["wire_bytes_per_text_byte"] > 0
    assert phase["tokens"] == 2 * 16
    assert phase["send_service_cpu_ms"]["n"] == 2
    server = phase["server"]
    assert server["cpu_s_per_1k_tokens"] is not None and server["peak_rss_mib"] > 0
    db = phase["db"]
    assert db["generation_write_transactions_per_reply"] >= 1
    assert db["user_turn_write_transactions_per_reply"] >= 1
    assert db["target_generation_writes_per_reply"] is not None
    assert phase["metrics"]["processes"][0]["send_handling_websocket"]["count"] == 2
    assert phase["slow_clients"]["count"] == 1
    baseline = phase["baseline"]
    assert baseline["first_token_ms"]["p50"] is not None and baseline["cpu_s_per_1k_tokens"] is not None
    assert baseline["lost_chars"] == baseline["duplicated_chars"] == 0

    (probe,) = report["send_cpu"]
    assert probe["answered"] == probe["upstream_requests"] == 2
    assert probe["cpu_ms_per_send"] > 0

    (trial,) = report["poisson"]
    assert trial["poisson"]["arrivals"] == trial["streams"] >= 1
    assert trial["words"] and trial["tokens"] == trial["streams"] * 16
    _streamed_well(trial, trial["streams"])

    page = report["page"]["6"]
    assert page["messages_rendered"] == 6
    assert isinstance(page["queries_per_request"], int) and page["queries_per_request"] > 0
    assert page["server_ms_median"] > 0 and page["client_ms_median"] > 0
    assert report["bytes_linearity"]["slope_bytes_per_text_byte"] > 0
    assert {t["target"] for t in report["targets"]}


def _two_cpus() -> bool:
    return len(os.sched_getaffinity(0)) >= 2


@pytest.mark.skipif(not _two_cpus(), reason="--pin needs two CPUs")
def test_pin_option_reads_cpu_lists():
    usable = sorted(os.sched_getaffinity(0))
    server = usable[-1]
    assert pin_spec(str(server)) == ([server], [c for c in usable if c != server])
    assert pin_spec(f"server={usable[1]},harness={usable[0]}") == ([usable[1]], [usable[0]])
    for wrong in (f"server={usable[0]},harness={usable[0]}", "cores=1", "x", "999"):
        with pytest.raises(argparse.ArgumentTypeError):
            pin_spec(wrong)


def test_bench_runs_daphne_then_uvicorn(tmp_path):
    """--server daphne,uvicorn: every phase on each, one after the other, both in the table; the
    counters, /__bench__/stats, CPU and RSS of the server's pid work under uvicorn as under daphne."""
    stdout, report = _run(
        tmp_path,
        "servers",
        "--server",
        "daphne,uvicorn",
        *("--streams", "2", "--tokens", "16", "--rate", "100", "--send-cpu", "2"),
        *("--no-probe", "--no-baseline"),
    )
    assert "daphne N=2" in stdout and "uvicorn N=2" in stdout
    assert report["config"]["servers"] == ["daphne", "uvicorn"]
    assert [p["asgi_server"] for p in report["phases"]] == ["daphne", "uvicorn"]
    assert [p["asgi_server"] for p in report["send_cpu"]] == ["daphne", "uvicorn"]
    for phase in report["phases"]:
        _streamed_well(phase, 2)
        assert phase["send_service_cpu_ms"]["n"] == 2
        assert phase["server"]["cpu_s_per_1k_tokens"] is not None and phase["server"]["peak_rss_mib"] > 0
        assert phase["db"]["generation_write_transactions_per_reply"] >= 1
        assert phase["metrics"]["processes"][0]["send_handling_websocket"]["count"] == 2
    for probe in report["send_cpu"]:
        assert probe["answered"] == probe["upstream_requests"] == 2
    # The SPEC's targets are daphne's: one per-phase DB target, for the daphne phase only.
    assert sum("N=2: DB write" in t["target"] for t in report["targets"]) == 1


@pytest.mark.skipif(not shutil.which("taskset") or not _two_cpus(), reason="needs taskset and two CPUs")
def test_bench_pins_the_server_and_the_harness(tmp_path):
    """--pin: the server (uvicorn here) and the baseline on the last CPU, the harness on the others."""
    usable = sorted(os.sched_getaffinity(0))
    server, harness = [usable[-1]], usable[:-1]
    stdout, report = _run(
        tmp_path,
        "pinned",
        *("--pin", str(server[0]), "--server", "uvicorn"),
        *("--streams", "2", "--tokens", "16", "--rate", "100", "--send-cpu", "0", "--no-probe"),
    )
    assert "Pinned: server and baseline processes on CPU" in stdout
    assert report["config"]["pin"] == {"server": server, "baseline": server, "harness": harness}
    assert report["machine"]["harness_cpus"] == harness
    (phase,) = report["phases"]
    _streamed_well(phase, 2)
    assert phase["server_cpus"] == {"A": server}
    assert phase["baseline"]["cpus"] == server
