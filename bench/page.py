"""The conversation page in-process: CPU time and wall time per request (medians), by size.

    .venv/bin/python -m bench.page                     # 10 and 1,000 messages, SQLite in a temp dir
    .venv/bin/python -m bench.page --messages 1000 --runs 40
    .venv/bin/python -m bench.page --database-url postgres://postgres@127.0.0.1:5432/chat_page_bench

The same conversation as `python -m bench --page` (bench/dbsetup.py: every answer has a list and
a code block), requested through Django's test client (no network, no ASGI server). The process's
CPU time per request is steadier than wall time on a shared machine, so a change to the page can
be compared run against run; `python -m bench --page` gives the server time behind daphne.
"""

import argparse
import statistics
import time

from bench.inprocess import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    setup_django("chat-page-", args.database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench import dbsetup

    print("| messages | CPU ms (median) | wall ms (median) | queries | bytes |")
    print("|---:|---:|---:|---:|---:|")
    for size in args.messages:
        info = dbsetup.page(size)
        client = Client()
        client.force_login(get_user_model().objects.get(username=info["username"]))
        url = f"/c/{info['conversation']}/"
        for _ in range(3):  # warm: templates loaded, first queries done
            assert client.get(url).status_code == 200
        cpu, wall = [], []
        for _ in range(args.runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            cpu.append((time.process_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        print(
            f"| {size:,} | {statistics.median(cpu):.1f} | {statistics.median(wall):.1f} "
            f"| {len(queries)} | {len(response.content):,} |"
        )


if __name__ == "__main__":
    main()
