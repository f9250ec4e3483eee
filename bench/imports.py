"""A maximum-size import while other people write: how long they wait, and whether any fails.

    .venv/bin/python -m bench.imports                  # a ~10 MB export into SQLite in a temp dir
    .venv/bin/python -m bench.imports --messages 2000 --blocks 70
    .venv/bin/python -m bench.imports --database-url postgres://postgres@127.0.0.1:5432/chat_import_bench

One thread imports (as the import view does); meanwhile two other threads of the same process
write as other users' requests do, each as fast as it can with a 20 ms pause: one renames a
conversation (a single UPDATE, as the sidebar's rename), one sends a message into a conversation
(a transaction of several writes, as a send). Reported: the import's time, its longest write
transaction, and each writer's latency (p50, p99, max) and errors.
"""

import argparse
import json
import statistics
import threading
import time

from bench.inprocess import setup_django

MAX_BYTES = 10 * 2**20


def export(messages: int, blocks: int) -> bytes:
    """An export of `messages` messages of `blocks` short text blocks each."""
    rows = [
        {
            "parent": i - 1 if i else None,
            "role": "user" if i % 2 == 0 else "assistant",
            "blocks": [
                {"type": "text", "text": f"Block {j} of message {i}: some words."} for j in range(blocks)
            ],
        }
        for i in range(messages)
    ]
    data = {"format": "chat-conversation", "version": 1, "title": "Big", "model": "claude-sonnet-4-6"}
    return json.dumps({**data, "messages": rows}).encode()


def largest_export(blocks: int) -> bytes:
    """The most messages of `blocks` blocks that stay under the import's size limit."""
    low, high = 1, 5000
    while low < high:
        middle = (low + high + 1) // 2
        if len(export(middle, blocks)) <= MAX_BYTES:
            low = middle
        else:
            high = middle - 1
    return export(low, blocks)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=0, help="default: as many as fit in 10 MB")
    parser.add_argument("--blocks", type=int, default=70)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    setup_django("chat-import-", args.database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from conversations import services
    from conversations.library import exporting

    raw = export(args.messages, args.blocks) if args.messages else largest_export(args.blocks)
    make = get_user_model().objects.create_user
    importer, other = (
        make("importer", "i@example.com", "pw-123456789"),
        make("other", "o@example.com", "pw-1234567"),
    )
    renamed, _ = services.conversation_start(user=other, text="Rename me", model="claude-sonnet-4-6")
    sent, _ = services.conversation_start(user=other, text="Send here", model="claude-sonnet-4-6")
    sent.messages.filter(status="streaming").update(status="complete")

    chunks: list[float] = []
    write_chunk = exporting._write_chunk

    def timed_chunk(*args_, **kwargs):
        started = time.perf_counter()
        write_chunk(*args_, **kwargs)
        chunks.append(time.perf_counter() - started)

    exporting._write_chunk = timed_chunk
    done = threading.Event()
    waits: dict[str, list[float]] = {"rename": [], "send": []}
    errors: dict[str, list[str]] = {"rename": [], "send": []}

    def rename(i: int) -> None:
        services.conversation_rename(conversation=renamed, title=f"Renamed {i}")

    def send(i: int) -> None:
        _, reply = services.message_send(conversation=sent, text=f"Message {i}")
        reply.__class__.objects.filter(pk=reply.pk).update(status="complete")

    def writer(name: str, write) -> None:
        i = 0
        while not done.is_set():
            started = time.perf_counter()
            try:
                write(i)
            except Exception as exc:  # counted and shown: an error here is what this measures
                errors[name].append(f"{type(exc).__name__}: {exc}"[:200])
            waits[name].append(time.perf_counter() - started)
            i += 1
            time.sleep(0.02)
        connection.close()

    data = exporting.parse(raw)
    threads = [
        threading.Thread(target=writer, args=(name, fn)) for name, fn in (("rename", rename), ("send", send))
    ]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    exporting.conversation_import(user=importer, data=data)
    took = time.perf_counter() - started
    done.set()
    for thread in threads:
        thread.join()

    size, count = len(raw) / 2**20, len(data.messages)
    print(f"import: {size:.1f} MB, {count:,} messages x {args.blocks} blocks, {took:.1f} s")
    longest, median = max(chunks) * 1000, statistics.median(chunks) * 1000
    print(f"write transactions: {len(chunks)}, longest {longest:.0f} ms, median {median:.0f} ms")
    print("| other writer | writes | p50 ms | p99 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in waits.items():
        p50, p99, most = (1000 * v for v in (percentile(values, 0.5), percentile(values, 0.99), max(values)))
        print(f"| {name} | {len(values)} | {p50:.0f} | {p99:.0f} | {most:.0f} | {len(errors[name])} |")
        for error in errors[name][:3]:
            print(f"  {name} error: {error}")


if __name__ == "__main__":
    main()
