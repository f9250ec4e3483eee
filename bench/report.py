"""The printed table and lines, and the SPEC.md targets checked against a run's results."""

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


def _relay_cell(p: dict) -> str:
    relay = p["relay"]
    cell = f"{relay['messages']:g} / {relay['frames']:g}"
    if len(relay.get("per_process", [])) > 1:
        cell += (
            " ("
            + ", ".join(
                f"{q['server']} {q['relay_messages']:g}/{q['frames']:g}" for q in relay["per_process"]
            )
            + ")"
        )
    return cell


def heads_of(results: list[dict]) -> list[str]:
    """Column heads: each result's label, after its server's name when the run measured several."""
    if len({r.get("asgi_server") for r in results}) > 1:
        return [f"{r.get('asgi_server')} {r['label']}" for r in results]
    return [r["label"] for r in results]


def phase_rows(phases: list[dict]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    heads = heads_of(phases)
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
    row("send via", lambda p: p.get("via", "-") + (" (cross)" if p.get("cross_process") else ""))
    row("peak concurrent streams (at the fake)", lambda p: str(p.get("peak_concurrent_streams", "-")))
    row(
        "fake emit rate per stream p50 (tok/s)",
        lambda p: _fmt(p.get("fake_rate_tokens_per_s", {}).get("p50")),
    )
    row("first token from Send p50 / p99 (ms)", lambda p: _pair(p["ttft_from_send_ms"]))
    row("  send answered at client p50 / p99 (ms)", lambda p: _pair(p["send_answer_ms"]))
    row("  send handling, server p50 / p99 (ms)", lambda p: _pair(p["send_server_ms"]))
    row("  send service CPU p50 / p99 (ms)", lambda p: _pair(p["send_service_cpu_ms"], 2))
    row("first token, app-added p50 / p99 (ms)", lambda p: _pair(p["first_token_ms"]))
    row(
        "  baseline SDK p50 / p99 (ms)",
        lambda p: _pair(p["baseline"]["first_token_ms"]) if p.get("baseline") else "-",
    )
    row(
        "  app / baseline (p50)",
        lambda p: _ratio(p["first_token_ms"]["p50"], base(p, "first_token_ms", "p50")),
    )
    row("delivery lag per delta p50 / p99 (ms)", lambda p: _pair(p["delta_lag_ms"]))
    row(
        "  baseline SDK p50 / p99 (ms)",
        lambda p: _pair(p["baseline"]["delivery_lag_ms"]) if p.get("baseline") else "-",
    )
    row("delivery lag per frame p50 / p99 (ms)", lambda p: _pair(p["delivery_lag_ms"]))
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
    if any(p.get("procs", 1) > 1 for p in phases):
        row("relay messages / frames", _relay_cell)
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
    row(
        "other processes' CPU s (load avg)",
        lambda p: f"{_fmt(p.get('other_processes_cpu_s'))} ({p.get('loadavg', '').split(' ')[0] or '-'})",
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


def first_server(results: dict) -> dict:
    """The results of the run's first server only (what the SPEC's targets are checked against: the
    app's own server, daphne, unless --server lists uvicorn first)."""
    servers = (results.get("config") or {}).get("servers") or ["daphne"]
    out = dict(results)
    for key in ("phases", "send_cpu", "poisson", "capacity"):
        out[key] = [r for r in results.get(key) or [] if r.get("asgi_server", servers[0]) == servers[0]]
    return out


def targets(results: dict) -> list[dict]:
    """Each SPEC.md target: measured value, limit, pass (None when this run did not measure it), for
    the run's first server."""
    results = first_server(results)
    phases = [p for p in results["phases"] if not p["label"].startswith(("bytes probe", "K="))]
    # The SPEC's single-process figures: one process, sends at once, every client on its own process.
    single = [p for p in results["phases"] if p.get("procs", 1) == 1 and not p["label"].startswith("bytes")]
    by_n = {p["streams"]: p for p in single}
    out = []

    def add(name, value, limit, ok):
        out.append({"target": name, "measured": value, "limit": limit, "pass": ok})

    def upto(value, limit):
        return None if value is None else value <= limit

    for n, q, limit in ((1, "p50", 15), (10, "p50", 60), (100, "p50", 400), (100, "p99", 800)):
        p = by_n.get(n)
        value = p and p["ttft_from_send_ms"][q]
        add(
            f"first token from Send {q} <= {limit} ms with {n} send(s) at once",
            value,
            limit,
            upto(value, limit),
        )
    for probe in results.get("send_cpu") or []:
        if probe.get("procs", 1) == 1:
            add(
                f"send handling <= 5 ms of CPU (sends-only burst of {probe['streams']}, via {probe['via']})",
                probe["cpu_ms_per_send"],
                5,
                probe["cpu_ms_per_send"] <= 5,
            )
    p = by_n.get(100)
    if p and p.get("baseline") and p["baseline"]["cpu_s_per_1k_tokens"]:
        ratio = p["server"]["cpu_s_per_1k_tokens"] / p["baseline"]["cpu_s_per_1k_tokens"]
        add("server CPU per 1k tokens <= 1.5 x the bare SDK at 100 streams", ratio, 1.5, ratio <= 1.5)
    p = by_n.get(1)
    value = p and p["delta_lag_ms"]["p99"]
    add("delivery lag per delta p99 <= 3 ms at 1 stream", value, 3, upto(value, 3))
    p = by_n.get(50)
    if p and p["rate_tokens_per_s"] == 50:
        value = p["delta_lag_ms"]["p99"]
        add("delivery lag per delta p99 <= 32 ms at 50 streams of 50 tok/s", value, 32, upto(value, 32))
    p = by_n.get(500)
    add(
        "500 streams: zero lost or duplicated characters, every stream completed",
        p and f"{p['lost_chars']} lost, {p['duplicated_chars']} dup, {p['completed']}/{p['streams']} done",
        0,
        None if not p else p["lost_chars"] + p["duplicated_chars"] == 0 and p["completed"] == p["streams"],
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
    for p in results["phases"]:
        if p["cross_process"]:
            add(
                f"{p['label']}: replies delivered across processes (cross placement)",
                f"{p['completed']}/{p['streams']}",
                f"{p['streams']}/{p['streams']}",
                p["completed"] == p["streams"] and p["lost_chars"] == 0,
            )
    local_multi = [
        p
        for p in results["phases"] + (results.get("poisson") or [])
        if p.get("procs", 1) > 1 and not p["cross_process"]
    ]
    if local_multi:
        relayed = sum(p["relay"]["messages"] for p in local_multi)
        add("0 relay messages when every tab is on the generating process", relayed, 0, relayed == 0)
    capacities = {c["procs"]: c for c in results.get("capacity") or [] if c["placement"] == "local"}
    if 1 in capacities and 2 in capacities and capacities[1]["concurrency"]:
        ratio = capacities[2]["concurrency"] / capacities[1]["concurrency"]
        add("Poisson capacity: 2 processes >= 1.7 x one", ratio, 1.7, ratio >= 1.7)
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
    if p and p["ttft_from_send_ms"]["p50"] is not None:
        limit = OPEN_WEBUI_TTFT_50_STREAMS_MS / 20
        add(
            "50 streams: first token from Send >= 20x below Open WebUI (p50)",
            p["ttft_from_send_ms"]["p50"],
            limit,
            p["ttft_from_send_ms"]["p50"] <= limit,
        )
    return out


def poisson_rows(trials: list[dict]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    heads = heads_of(trials)
    rows: list[tuple[str, list[str]]] = []

    def row(name, fn):
        rows.append((name, [fn(t) for t in trials]))

    row("arrivals (sends)", lambda t: str(t["poisson"]["arrivals"]))
    row(
        "concurrency nominal / measured",
        lambda t: f"{t['poisson']['nominal_concurrency']:.0f} / {_fmt(t['poisson']['mean_concurrency'], 0)}",
    )
    row("peak concurrent streams (at the fake)", lambda t: str(t["peak_concurrent_streams"]))
    row("streams completed", lambda t: f"{t['completed']}/{t['streams']}")
    row("first token from Send p50 / p99 (ms)", lambda t: _pair(t["ttft_from_send_ms"]))
    row("  send handling, server p50 / p99 (ms)", lambda t: _pair(t["send_server_ms"]))
    row("delivery lag per delta p50 / p99 (ms)", lambda t: _pair(t["delta_lag_ms"]))
    row("delivery lag per frame p99 (ms)", lambda t: _fmt(t["delivery_lag_ms"]["p99"]))
    row("lost / duplicated chars", lambda t: f"{t['lost_chars']} / {t['duplicated_chars']}")
    row("server CPU s / 1k tokens", lambda t: _fmt(t["server"]["cpu_s_per_1k_tokens"], 3))
    row(
        "server CPU % of the window",
        lambda t: f"{100 * t['server']['cpu_s'] / t['wall_s']:.0f}%" if t["wall_s"] else "-",
    )
    row("event-loop lag p99 (ms)", lambda t: _fmt(t["server"]["loop_lag_p99_ms"]))
    row("relay messages / frames", _relay_cell)
    row(
        "harness CPU s (fake API thread)",
        lambda t: f"{_fmt(t['harness']['cpu_s'])} ({_fmt(t['harness']['fake_api_thread_cpu_s'])})",
    )
    row("other processes' CPU s", lambda t: _fmt(t.get("other_processes_cpu_s")))
    if any(t["errors"] for t in trials):
        row("errors", lambda t: ", ".join(f"{k}: {v}" for k, v in t["errors"].items()) or "-")
    row("within the limits", lambda t: "yes" if t["poisson"]["pass"] else "no")
    return heads, rows


def render(results: dict) -> str:
    parts = []
    phases = results["phases"]
    if phases:
        heads, rows = phase_rows(phases)
        parts.append(render_table(heads, rows))
    for probe in results.get("send_cpu") or []:
        handling = probe["metrics"]["processes"]
        hist = [h[f"send_handling_{'websocket' if probe['via'] == 'ws' else 'post'}"] for h in handling]
        mean = [h["mean_ms"] for h in hist if h["mean_ms"] is not None]
        parts.append(
            f"Send CPU ({probe.get('asgi_server', 'daphne')} {probe['label']}, via {probe['via']}, "
            "the fake holding every reply): "
            f"{probe['cpu_ms_per_send']:.2f} ms of server CPU per send (event-loop thread "
            f"{probe['main_thread_cpu_ms_per_send']:.2f} ms, worker threads "
            f"{probe['other_threads_cpu_ms_per_send']:.2f} ms), up to each reply's request reaching the API; "
            f"the send service (validate, commit, render) "
            f"{_fmt(probe['send_service_cpu_ms']['p50'], 2)} ms CPU p50 in its thread; "
            f"send handling (server, wall) p50 / p99 {_pair(probe['send_server_ms'])} ms"
            + (f", /metrics mean {mean[0]:.1f} ms" if mean else "")
            + f"; {probe['answered']}/{probe['streams']} answered."
        )
    trials = results.get("poisson") or []
    if trials:
        heads, rows = poisson_rows(trials)
        parts.append(render_table(heads, rows))
    for capacity in results.get("capacity") or []:
        parts.append(capacity_line(capacity))
    by_server = results.get("bytes_linearity_by_server") or {"": results.get("bytes_linearity")}
    for server, lin in by_server.items():
        if lin:
            parts.append(
                f"Wire bytes per reply{f' ({server})' if server else ''} ~ "
                f"{lin['slope_bytes_per_text_byte']:.2f} x text bytes + "
                f"{lin['fixed_overhead_bytes']:.0f} B (fitted on {len(lin['points'])} reply lengths)."
            )
    pin = (results.get("config") or {}).get("pin")
    if pin:
        parts.append(
            f"Pinned: server and baseline processes on CPU {','.join(map(str, pin['server']))} (taskset), "
            f"the harness and its fake API on CPU {','.join(map(str, pin['harness']))}."
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
    checks = [t for t in results.get("targets") or [] if t["pass"] is not None]
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


def ms(v: float | None) -> str:
    """Milliseconds to one decimal, "-" when not measured."""
    return "-" if v is None else f"{v:.1f}"


def phase_line(result: dict) -> str:
    """A burst or Poisson phase in one progress line."""
    ft = result["ttft_from_send_ms"]
    lag = result["delta_lag_ms"]
    relay = result["relay"]
    return (
        f"  completed {result['completed']}/{result['streams']}, first token from Send p50 "
        f"{ms(ft['p50'])} ms p99 {ms(ft['p99'])} ms, lag per delta p99 {ms(lag['p99'])} ms, "
        f"lost {result['lost_chars']} dup {result['duplicated_chars']}, relay messages "
        f"{relay['messages']:g} / frames {relay['frames']:g}, errors {result['errors'] or 'none'}"
    )


def send_cpu_line(result: dict) -> str:
    """A sends-only burst in one progress line."""
    return (
        f"  {result['answered']}/{result['streams']} sends answered, {result['upstream_requests']} upstream "
        f"requests: {result['cpu_ms_per_send']:.2f} ms CPU per send (event loop "
        f"{result['main_thread_cpu_ms_per_send']:.2f}, threads "
        f"{result['other_threads_cpu_ms_per_send']:.2f}); "
        f"send service {ms(result['send_service_cpu_ms']['p50'])} ms CPU p50 in its thread"
    )


def capacity_line(capacity: dict) -> str:
    """The capacity search's finding, for the progress log and the report."""
    k = capacity["procs"]
    pin = capacity.get("pin")
    where = f"{k} {capacity.get('asgi_server', 'daphne')} process(es)"
    if pin:
        cpus, harness = (",".join(map(str, pin[key])) for key in ("server", "harness"))
        where += f" pinned to CPU {cpus} (harness on {harness})"
    if capacity["rps"] is None:
        return (
            f"Capacity, {where}: none found (failed at {capacity['failed_rps']:g} sends/s) "
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
        f"Capacity, {where}, {capacity['placement']} placement, send via {capacity['via']}: "
        f"{capacity['concurrency']:.0f} concurrent streams ({capacity['rps']:g} sends/s x "
        f"{capacity['reply_s']:.1f} s replies{failed}), "
        f"{capacity['concurrency_per_process']:.0f} per process, "
        f"with first token from Send p99 <= {capacity['first_token_limit_ms']:g} ms and lag per delta "
        f"p99 <= {capacity['lag_limit_ms']:g} ms{relay}"
    )
