"""What a run measures: its options (Config), the phases of a round (Phase, plan), the progress log."""

import sys
from dataclasses import dataclass, field
from pathlib import Path


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
    baseline_http: str = "aiohttp"  # the baseline SDK's HTTP client (bench/baseline.py)
    probe: bool = True
    ramp: float = 0.0
    first_frame_timeout: float | None = None  # default 30 s + 50 ms per stream
    stream_timeout: float | None = None
    py_spy: str = ""
    py_spy_gil: bool = False  # record only the thread holding the GIL
    server_env: tuple[str, ...] = ()  # NAME=VALUE settings for the app (the harness drops CHAT_* otherwise)
    keep: bool = False
    raw: bool = False
    note: str = ""
    server_switch_interval: float = 0.0  # experiment knob; 0 = the app as it is
    servers: list[str] = field(default_factory=lambda: ["daphne"])  # every phase once per server, in order
    uvicorn_ws: str = "websockets"  # uvicorn's websocket implementation
    pin_server: list[int] = field(default_factory=list)  # --pin: the servers' (and baseline's) CPUs
    pin_harness: list[int] = field(default_factory=list)  # --pin: the harness's CPUs
    wait_quiet: float = 0.0  # before each phase, wait up to this long for other processes to go idle
    quiet_cores: float = 0.15  # "idle": other processes use less than this many cores
    out: Path | None = None
    quiet: bool = False

    def cross(self, k: int) -> bool:
        """Whether a round on k processes sends through one process and watches on another."""
        return self.placement == "cross" and k > 1

    def pin(self) -> dict | None:
        """--pin as the JSON records it (None: nothing pinned)."""
        if not self.pin_server:
            return None
        return {"server": self.pin_server, "baseline": self.pin_server, "harness": self.pin_harness}

    def pin_text(self) -> str:
        """--pin for a phase's header line: ", pinned: server+baseline CPU 1, harness CPU 0" or ""."""
        if not self.pin_server:
            return ""
        server = ",".join(map(str, self.pin_server))
        harness = ",".join(map(str, self.pin_harness))
        return f", pinned: server+baseline CPU {server}, harness CPU {harness}"

    def round_prefix(self, k: int, server: str) -> tuple[str, str]:
        """A round's phase key prefix (unique in the run: "k2", "uk2" with several servers) and label
        prefix ("K=2 "; the server is a field of each result, and the table's heads name it)."""
        multi = len(self.procs) > 1
        key = (server[0] if len(self.servers) > 1 else "") + (f"k{k}" if multi else "")
        return key, f"K={k} " if multi else ""

    def via(self, k: int) -> str:
        # A send over a socket goes to that socket's process: sending on one process and watching
        # on another is a POST (as the composer's fallback does it).
        return "post" if self.cross(k) else self.send_via


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


def reply_seconds(tokens: int, rate: float) -> float:
    """How long the fake takes to stream a reply (its first to its last delta)."""
    return (tokens - 1) / rate if rate else 0.0


def plan(cfg: Config, k: int, server: str = "daphne") -> list[Phase]:
    """The phases of a round on k processes of `server` with a fixed number of streams (Poisson
    trials come after)."""
    prefix, label = cfg.round_prefix(k, server)
    # Five sends at once warm what a first send pays once (templates, lazy imports, connections),
    # so the sends-only phase measures sends.
    phases = [Phase(f"{prefix}w", "warm-up", max(k, 5), 10, 0, via=cfg.send_via)]
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
                cross=cfg.cross(k),
                via=cfg.via(k),
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
                cross=cfg.cross(k),
                via=cfg.via(k),
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
                cross=cfg.cross(k),
                baseline=cfg.baseline,
                slow=cfg.slow_clients,
                via=cfg.via(k),
                words=cfg.words,
                spy=bool(cfg.py_spy) and n == max(cfg.streams),
            )
        )
    return phases


def log(cfg: Config, message: str) -> None:
    if not cfg.quiet:
        print(message, file=sys.stderr, flush=True)
