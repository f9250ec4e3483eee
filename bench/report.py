"""The printed table, and the SPEC.md targets checked against a run's results."""

# Open WebUI 0.12.4 on this machine (SPEC.md, "Targets"): the peer to beat.
OPEN_WEBUI_CPU_PER_1K_TOKENS = (0.6, 1.4)
OPEN_WEBUI_TTFT_50_STREAMS_MS = 2400


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pair(summary: dict, digits: int = 1) -> str:
    return f"{_fmt(summary.get('p50'), digits)} / {_fmt(summary.get('p99'), digits)}"


def _ratio(a, b) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.1f}x"


def phase_rows(phases: list[dict]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    heads = [p["label"] for p in phases]
    rows: list[tuple[str, list[str]]] = []

    def row(name, fn):
        rows.append((name, [fn(p) for p in phases]))

    def base(p, *keys):
        value = p.get("baseline")
        for key in keys:
            if value is None:
                return None
            value = value.get(key)
        return value

    row("streams completed", lambda p: f"{p['completed']}/{p['streams']}")
    row("peak concurrent streams (at the fake)", lambda p: str(p.get("peak_concurrent_streams", "-")))
    row(
        "fake emit rate per stream p50 (tok/s)",
        lambda p: _fmt(p.get("fake_rate_tokens_per_s", {}).get("p50")),
    )
    row("first token, app-added p50 / p99 (ms)", lambda p: _pair(p["first_token_ms"]))
    row(
        "  baseline SDK p50 / p99 (ms)",
        lambda p: _pair(p["baseline"]["first_token_ms"]) if p.get("baseline") else "-",
    )
    row(
        "  app / baseline (p50)",
        lambda p: _ratio(p["first_token_ms"]["p50"], base(p, "first_token_ms", "p50")),
    )
    row("first token from POST p50 / p99 (ms)", lambda p: _pair(p["ttft_from_post_ms"]))
    row("  POST /send/ server time p50 / p99 (ms)", lambda p: _pair(p["post_server_ms"]))
    row("delivery lag p50 / p99 (ms)", lambda p: _pair(p["delivery_lag_ms"]))
    row(
        "  baseline SDK p50 / p99 (ms)",
        lambda p: _pair(p["baseline"]["delivery_lag_ms"]) if p.get("baseline") else "-",
    )
    row("frames/s per stream (p50)", lambda p: _fmt(p["frames_per_s_per_stream"]["p50"]))
    row("wire bytes / text byte", lambda p: _fmt(p["wire_bytes_per_text_byte"], 2))
    row("lost / duplicated chars", lambda p: f"{p['lost_chars']} / {p['duplicated_chars']}")
    if any(p["mismatched_streams"] for p in phases):
        row(
            "  streams with loss (end frame complete)",
            lambda p: f"{p['mismatched_streams']} ({p.get('mismatched_but_end_frame_complete', 0)})",
        )
    row("server CPU s / 1k tokens", lambda p: _fmt(p["server"]["cpu_s_per_1k_tokens"], 3))
    row("  baseline SDK", lambda p: _fmt(base(p, "cpu_s_per_1k_tokens"), 3))
    row(
        "  app / baseline",
        lambda p: _ratio(p["server"]["cpu_s_per_1k_tokens"], base(p, "cpu_s_per_1k_tokens")),
    )
    row("server peak RSS (MiB)", lambda p: _fmt(p["server"]["peak_rss_mib"], 0))
    row("server threads (peak)", lambda p: _fmt(p["server"].get("peak_threads")))
    row("event-loop lag p99 (ms)", lambda p: _fmt(p["server"]["loop_lag_p99_ms"]))
    row(
        "SQLite write-lock wait p99 ms (total s)",
        lambda p: (
            f"{_fmt(p['server']['sqlite_begin_wait_p99_ms'])} "
            f"({_fmt(p['server']['sqlite_begin_wait_seconds'])})"
        ),
    )
    row(
        "DB write txns / reply (target)",
        lambda p: (
            f"{_fmt(p['db']['generation_write_transactions_per_reply'])} "
            f"({_fmt(p['db']['target_generation_writes_per_reply'])})"
        ),
    )
    row("  write statements / reply", lambda p: _fmt(p["db"]["generation_write_statements_per_reply"]))
    row(
        "  + user turn txns / statements",
        lambda p: (
            f"{_fmt(p['db']['user_turn_write_transactions_per_reply'])} / "
            f"{_fmt(p['db']['user_turn_write_statements_per_reply'])}"
        ),
    )
    row("harness event-loop lag p99 (ms)", lambda p: _fmt(p["harness"].get("loop_lag_ms", {}).get("p99")))
    row(
        "harness CPU s (fake API thread)",
        lambda p: f"{_fmt(p['harness']['cpu_s'])} ({_fmt(p['harness']['fake_api_thread_cpu_s'])})",
    )
    if any(p.get("slow_clients") for p in phases):
        row("slow clients", lambda p: str(p.get("slow_clients", {}).get("count", 0)))
    if any(p.get("stored_status_of_undelivered") for p in phases):
        row(
            "undelivered replies, as stored",
            lambda p: (
                ", ".join(f"{k}: {v}" for k, v in p.get("stored_status_of_undelivered", {}).items()) or "-"
            ),
        )
    if any(p.get("server_log_errors") for p in phases):
        row(
            "server log exceptions",
            lambda p: (
                "; ".join(f"{k.split(': ')[-1][:28]} x{v}" for k, v in p.get("server_log_errors", {}).items())
                or "-"
            ),
        )
    if any(p["errors"] for p in phases):
        row("errors", lambda p: ", ".join(f"{k}: {v}" for k, v in p["errors"].items()) or "-")
    return heads, rows


def render_table(heads: list[str], rows: list[tuple[str, list[str]]]) -> str:
    width0 = max([len("metric")] + [len(name) for name, _ in rows])
    widths = [max([len(h)] + [len(r[1][i]) for r in rows]) for i, h in enumerate(heads)]
    lines = [
        "| "
        + "metric".ljust(width0)
        + " | "
        + " | ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))
        + " |",
        "|" + "-" * (width0 + 2) + "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|",
    ]
    for name, cells in rows:
        lines.append(
            "| "
            + name.ljust(width0)
            + " | "
            + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
            + " |"
        )
    return "\n".join(lines)


def targets(results: dict) -> list[dict]:
    """Each SPEC.md target: measured value, limit, pass (None when this run did not measure it)."""
    phases = [p for p in results["phases"] if not p["label"].startswith("bytes probe")]
    by_n = {p["streams"]: p for p in phases}
    out = []

    def add(name, value, limit, ok):
        out.append({"target": name, "measured": value, "limit": limit, "pass": ok})

    p = by_n.get(100)
    add(
        "app-added first token p50 <= 5 ms at 100 streams",
        p and p["first_token_ms"]["p50"],
        5,
        None if not p or p["first_token_ms"]["p50"] is None else p["first_token_ms"]["p50"] <= 5,
    )
    add(
        "app-added first token p99 <= 30 ms at 100 streams",
        p and p["first_token_ms"]["p99"],
        30,
        None if not p or p["first_token_ms"]["p99"] is None else p["first_token_ms"]["p99"] <= 30,
    )
    p = by_n.get(500)
    add(
        "500 streams: zero lost or duplicated characters, every stream completed",
        p and f"{p['lost_chars']} lost, {p['duplicated_chars']} dup, {p['completed']}/{p['streams']} done",
        0,
        None if not p else p["lost_chars"] + p["duplicated_chars"] == 0 and p["completed"] == p["streams"],
    )
    add(
        "500 streams: delivery lag p99 <= 150 ms",
        p and p["delivery_lag_ms"]["p99"],
        150,
        None if not p or p["delivery_lag_ms"]["p99"] is None else p["delivery_lag_ms"]["p99"] <= 150,
    )
    lin = results.get("bytes_linearity")
    add(
        "wire bytes <= 1.3 x text + fixed overhead (fitted slope)",
        lin and lin["slope_bytes_per_text_byte"],
        1.3,
        None if not lin else lin["slope_bytes_per_text_byte"] <= 1.3,
    )
    for p in phases:
        db = p["db"]
        if db["target_generation_writes_per_reply"] is None or p["cross_process"]:
            continue
        add(
            f"{p['label']}: DB write transactions per reply <= blocks + 1 + one per 2 s",
            db["generation_write_transactions_per_reply"],
            db["target_generation_writes_per_reply"],
            db["generation_write_transactions_per_reply"] <= db["target_generation_writes_per_reply"] + 1e-9,
        )
    for p in phases:
        if p["cross_process"]:
            add(
                f"{p['label']}: replies delivered across processes (--redis)",
                f"{p['completed']}/{p['streams']}",
                f"{p['streams']}/{p['streams']}",
                p["completed"] == p["streams"] and p["lost_chars"] == 0,
            )
    page = results.get("page") or {}
    big = page.get("1000")
    if big:
        queries = [v["queries_per_request"] for v in page.values()]
        constant = all(isinstance(q, int) for q in queries) and len(set(queries)) == 1
        add(
            "1,000-message page: constant queries, <= 15",
            big["queries_per_request"],
            15,
            constant and isinstance(big["queries_per_request"], int) and big["queries_per_request"] <= 15,
        )
        add(
            "1,000-message page: server time <= 150 ms (median)",
            big["server_ms_median"],
            150,
            big["server_ms_median"] <= 150,
        )
    cpus = [
        p["server"]["cpu_s_per_1k_tokens"] for p in phases if p["server"]["cpu_s_per_1k_tokens"] is not None
    ]
    if cpus:
        worst = max(cpus)
        limit = OPEN_WEBUI_CPU_PER_1K_TOKENS[0] / 5
        add("CPU per 1k tokens >= 5x below Open WebUI (0.6 s) in every phase", worst, limit, worst <= limit)
    p = by_n.get(50)
    if p and p["ttft_from_post_ms"]["p50"] is not None:
        limit = OPEN_WEBUI_TTFT_50_STREAMS_MS / 20
        add(
            "50 streams: first token from POST >= 20x below Open WebUI (p50)",
            p["ttft_from_post_ms"]["p50"],
            limit,
            p["ttft_from_post_ms"]["p50"] <= limit,
        )
    return out


def render(results: dict) -> str:
    parts = []
    phases = results["phases"]
    if phases:
        heads, rows = phase_rows(phases)
        parts.append(render_table(heads, rows))
    lin = results.get("bytes_linearity")
    if lin:
        parts.append(
            f"Wire bytes per reply ~ {lin['slope_bytes_per_text_byte']:.2f} x text bytes + "
            f"{lin['fixed_overhead_bytes']:.0f} B (fitted on {len(lin['points'])} reply lengths)."
        )
    page = results.get("page")
    if page:
        heads = [f"{v['messages']} messages" for v in page.values()]
        rows = [
            ("SQL queries per request", [str(v["queries_per_request"]) for v in page.values()]),
            ("server time median (ms)", [f"{v['server_ms_median']:.1f}" for v in page.values()]),
            ("client time median (ms)", [f"{v['client_ms_median']:.1f}" for v in page.values()]),
            ("response size (KiB)", [f"{v['response_bytes'] / 1024:.0f}" for v in page.values()]),
        ]
        parts.append(render_table(heads, rows))
    checks = results.get("targets") or []
    if checks:
        lines = ["SPEC.md targets:"]
        for t in checks:
            if t["pass"] is None:
                continue  # not measured by this run (see the JSON)
            mark = {True: "PASS", False: "MISS", None: "n/a "}[t["pass"]]
            measured = _fmt(t["measured"], 2) if not isinstance(t["measured"], str) else t["measured"]
            lines.append(f"  {mark}  {t['target']}: {measured} (limit {_fmt(t['limit'], 2)})")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
