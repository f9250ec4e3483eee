"""Prometheus metrics of this process: what a person waits for, and what the server does.

Each ASGI process keeps its own; scrape every process (each serves `/metrics`).
"""

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

SEND_SECONDS = Histogram(
    "chat_send_handling_seconds",
    "From a send reaching the server to the turn's HTML on its way back",
    ["path"],
    buckets=_LATENCY_BUCKETS,
)
FIRST_TOKEN_SECONDS = Histogram(
    "chat_send_to_first_token_seconds",
    "From a send reaching the server to the reply's first text frame leaving it",
    buckets=_LATENCY_BUCKETS,
)
ACTIVE_STREAMS = Gauge("chat_active_streams", "Replies streaming in this process")
FRAMES = Counter("chat_frames_total", "Frames published to tabs")
RELAY_MESSAGES = Counter("chat_relay_messages_total", "Channel-layer messages of frames to other processes")
DB_WRITES = Counter("chat_db_write_transactions_total", "Write transactions, by what they wrote", ["kind"])
ERRORS = Counter("chat_reply_errors_total", "Replies that failed, by what failed", ["kind"])


def send_handled(seconds: float, path: str) -> None:
    SEND_SECONDS.labels(path).observe(seconds)


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
