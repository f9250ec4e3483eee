"""The conversation page: over HTTP behind daphne (`over_http`, for `python -m bench --page`), and
in-process: CPU time and wall time per request (medians), by size (`python -m bench.page`).

    .venv/bin/python -m bench.page                     # 10 and 1,000 messages, SQLite in a temp dir
    .venv/bin/python -m bench.page --messages 1000 --runs 40
    .venv/bin/python -m bench.page --database-url postgres://postgres@127.0.0.1:5432/chat_page_bench

The same conversation as `python -m bench --page` (bench/dbsetup.py: every answer has a list and
a code block), requested through Django's test client (no network, no ASGI server). The process's
CPU time per request is steadier than wall time on a shared machine, so a change to the page can
be compared run against run; `python -m bench --page` gives the server time behind daphne.
"""

import argparse
import asyncio
import json
import statistics
import time

from bench.clients import BenchError, Browser, cookie_header
from bench.config import Config, log
from bench.inprocess import setup_django
from bench.stack import Stack


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


async def over_http(cfg: Config, stack: Stack, browser: Browser) -> dict:
    """Each --page-messages size: timed GETs of the page from the first server, and its own counters."""
    server = stack.servers[0]
    out = {}
    for messages in cfg.page_messages:
        info = json.loads(await stack.python(["-m", "bench.dbsetup", "page", "--messages", str(messages)]))
        cookies = await browser.cookies_for(server.base_url, info["username"], info["password"])
        url = f"{server.base_url}/c/{info['conversation']}/"
        headers = {"Cookie": cookie_header(cookies)}
        for _ in range(3):  # warm-up: template loading, first queries
            async with browser.session.get(url, headers=headers) as resp:
                await resp.read()
        client_ms, sizes = [], []
        for i in range(cfg.page_requests):
            start = time.perf_counter()
            async with browser.session.get(f"{url}?timed={i}", headers=headers) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise BenchError(f"GET {url} answered {resp.status}")
            client_ms.append((time.perf_counter() - start) * 1000)
            sizes.append(len(body))
        stats = await asyncio.to_thread(server.stats, False)
        mine = [
            r
            for r in stats["requests"]
            if r["path"] == f"/c/{info['conversation']}/" and r["query"].startswith("timed=")
        ]
        queries = sorted({r.get("statements", 0) for r in mine})
        out[str(messages)] = {
            "messages": messages,
            "messages_rendered": body.decode().count('data-role="'),
            "requests": len(mine),
            "queries_per_request": queries[0] if len(queries) == 1 else queries,
            "write_statements": sum(r.get("write_statements", 0) for r in mine),
            "client_ms_median": statistics.median(client_ms),
            "client_ms_p90": sorted(client_ms)[int(0.9 * (len(client_ms) - 1))],
            "server_ms_median": statistics.median(r["server_seconds"] * 1000 for r in mine),
            "response_bytes": statistics.median(sizes),
        }
        log(cfg, f"page {messages} messages: {out[str(messages)]}")
    return out


if __name__ == "__main__":
    main()
