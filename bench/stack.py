"""What a run stands up and tears down: its data dir, the fake API, the database and the server processes."""

import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import procs
from bench.clients import BenchError
from bench.config import Config, log
from bench.fakeapi import BenchFake

SERVER_NAMES = "ABCDEFGHIJKLMNOP"


class Stack:
    """One run's processes and files; `cleanup()` leaves nothing of them behind."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
        self.fake = BenchFake()
        self.servers: list[procs.AppServer] = []
        self.server_kind = cfg.servers[0]  # the current round's server: daphne or uvicorn
        self.env: dict[str, str] = {}  # one process's environment: what the set-up scripts run with
        self.metrics_token = secrets.token_hex(16)
        self.database_url = ""

    @property
    def process_count(self) -> int:
        """Processes of the current round."""
        return len(self.servers)

    async def setup(self) -> None:
        """The fake API, and a migrated database with the static files collected."""
        cfg = self.cfg
        self.fake.start()
        if max(cfg.procs) > 1:
            _check_redis(cfg.redis_url)
        if cfg.database_url:
            self.database_url = await asyncio.to_thread(procs.create_postgres_database, cfg.database_url)
        self.env = self.app_env(1)
        log(cfg, f"data dir {self.data_dir}; fake API at {self.fake.base_url}")
        await self.python(["manage.py", "migrate", "--noinput", "-v0"])
        await self.python(["manage.py", "collectstatic", "--noinput", "-v0"])

    async def python(self, args: list[str]) -> str:
        """`python <args>` with the app's environment (bench.dbsetup, manage.py); its stdout."""
        return await asyncio.to_thread(procs.run_python, args, self.env)

    def app_env(self, k: int) -> dict[str, str]:
        """The app's environment with k processes: Redis only when there are several."""
        env = procs.app_env(
            self.data_dir,
            self.fake.base_url,
            self.cfg.redis_url if k > 1 else "",
            metrics_token=self.metrics_token,
            database_url=self.database_url,
        )
        return env | dict(setting.split("=", 1) for setting in self.cfg.server_env)

    async def start_servers(self, k: int, kind: str = "daphne") -> None:
        """k processes of `kind` (daphne or uvicorn), on the --pin CPUs if given."""
        env = self.app_env(k)
        self.server_kind = kind
        self.servers = [
            procs.AppServer(
                SERVER_NAMES[i] if i < len(SERVER_NAMES) else f"P{i}",
                env,
                self.data_dir,
                self.cfg.server_switch_interval,
                kind=kind,
                cpus=self.cfg.pin_server,
                uvicorn_ws=self.cfg.uvicorn_ws,
            )
            for i in range(k)
        ]
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in self.servers))
        log(
            self.cfg,
            f"{kind}: "
            + ", ".join(
                f"{s.name} pid {s.pid} at {s.base_url} on CPUs {procs.cpu_list(procs.affinity(s.pid))}"
                for s in self.servers
            ),
        )

    def affinities(self) -> dict[str, list[int]]:
        """Each server's CPUs as the kernel has them (what --pin did, or every CPU)."""
        return {s.name: procs.affinity(s.pid) for s in self.servers}

    async def stop_servers(self) -> None:
        for server in self.servers:
            await asyncio.to_thread(server.stop)

    def check_alive(self) -> None:
        for server in self.servers:
            if not server.alive():
                raise BenchError(f"{server.kind} {server.name} died:\n{server.log_tail()}")

    def new_log_errors(self) -> dict[str, int]:
        """The exception lines every server logged since the last call, the 10 most frequent."""
        found: Counter = Counter()
        for server in self.servers:
            found.update(server.new_log_errors())
        return dict(found.most_common(10))

    def note_log_errors(self, result: dict) -> None:
        """A phase's result gets the exception lines the servers logged during it, if any."""
        if errors := self.new_log_errors():
            result["server_log_errors"] = errors

    def cleanup(self) -> None:
        """Stop exactly what this run started; drop its database and data dir unless --keep."""
        for server in self.servers:
            server.stop()
        procs.stop_all()
        self.fake.stop()
        if self.database_url and not self.cfg.keep:
            try:
                procs.drop_postgres_database(self.database_url)
            except Exception as exc:  # the run's result matters more than the clean-up
                print(f"could not drop {self.database_url}: {exc}", file=sys.stderr)
        if not self.cfg.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _check_redis(url: str) -> None:
    """Redis answers, and no other run is using this database: its processes would route frames of
    their conversation ids (which start at 1 in every fresh database, as ours do) to our processes."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
        now = time.time()
        for key in client.scan_iter("chat:watchers:*", count=1000):
            if client.zcount(key, now, "+inf"):
                raise BenchError(
                    f"{url} has live watcher keys ({key.decode()}): another run or app is using this Redis "
                    "database; wait a minute (they expire) or pass --redis-url with another database number"
                )
    except redis.RedisError as exc:
        raise BenchError(f"cannot reach {url}: {exc}") from exc
