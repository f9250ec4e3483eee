"""The benchmark harness end to end, tiny: 2 streams of a short reply, plus a small page run.

Runs `python -m bench` as a subprocess (the app runs under its own daphne, on its own temporary
database), then checks that the report has every field and that no character was lost or
duplicated. It never asserts speed.
"""

import json
import subprocess
import sys
from pathlib import Path

from bench.metrics import delivery_lags, html_shows_text, lost_and_duplicated, percentile

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


def test_end_frame_text_check_reads_rendered_html():
    text = "Hi *there*.\n\n```python\nx = f(1)  # <b>\n```\n"
    rendered = '<p>Hi <em>there</em>.</p><pre><span class="n">x</span> = <span>f(1)</span>  # &lt;b&gt;</pre>'
    assert html_shows_text(rendered, text.replace("*", ""))
    assert not html_shows_text("<p>Hi</p>", text)


def test_bench_runs_and_reports(tmp_path):
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        "-m",
        "bench",
        "--streams",
        "2",
        "--tokens",
        "16",
        "--rate",
        "100",
        "--slow-clients",
        "1",
        "--page",
        "--page-messages",
        "6",
        "--page-requests",
        "3",
        "--out",
        str(out),
        "--quiet",
    ]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "first token, app-added" in proc.stdout

    report = json.loads(out.read_text())
    phase = next(p for p in report["phases"] if p["streams"] == 2)
    assert phase["completed"] == 2, phase["errors"]
    assert phase["lost_chars"] == 0
    assert phase["duplicated_chars"] == 0
    for summary in ("first_token_ms", "ttft_from_post_ms", "delivery_lag_ms", "frames_per_s_per_stream"):
        assert phase[summary]["n"] > 0 and phase[summary]["p50"] is not None and "p99" in phase[summary]
    assert phase["wire_bytes_per_text_byte"] > 0
    assert phase["tokens"] == 2 * 16
    server = phase["server"]
    assert server["cpu_s_per_1k_tokens"] is not None and server["peak_rss_mib"] > 0
    db = phase["db"]
    assert db["generation_write_transactions_per_reply"] >= 1
    assert db["user_turn_write_transactions_per_reply"] >= 1
    assert db["target_generation_writes_per_reply"] is not None
    assert phase["slow_clients"]["count"] == 1
    baseline = phase["baseline"]
    assert baseline["first_token_ms"]["p50"] is not None and baseline["cpu_s_per_1k_tokens"] is not None
    assert baseline["lost_chars"] == baseline["duplicated_chars"] == 0

    page = report["page"]["6"]
    assert page["messages_rendered"] == 6
    assert isinstance(page["queries_per_request"], int) and page["queries_per_request"] > 0
    assert page["server_ms_median"] > 0 and page["client_ms_median"] > 0
    assert report["bytes_linearity"]["slope_bytes_per_text_byte"] > 0
    assert {t["target"] for t in report["targets"]}
