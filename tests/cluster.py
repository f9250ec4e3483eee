"""Two daphne workers sharing PostgreSQL and Redis, for the tests marked `multiprocess`
(tests/test_multiprocess.py and the cross-process faults in tests/test_faults.py).

Fixtures (import them into a test module: `from tests.cluster import cluster_fixture, ...`; tests
ask for them as `fake`, `cluster` and `session`), all module-scoped, so each module gets its own
database and pair of workers:

* ``fake``     a FakeAnthropic server the workers talk to
* ``cluster``  the two workers (skipped, with the reason, when PostgreSQL or Redis is not reachable)
* ``session``  (client, csrf token, conversation id): alice logged in through A, one chat done
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from fakes import FakeAnthropic
from tests.live import PYTHON, ROOT, _stop, _wait_http, app_env, free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
LONG = " ".join(f"w{i}" for i in range(150))
NEEDS = "needs PostgreSQL on 5432 and Redis on 6379"


def reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def available() -> bool:
    return reachable(5432) and reachable(6379)


class Cluster:
    """One database, one Redis db, two app processes (A and B)."""

    def __init__(self, fake: FakeAnthropic, tmp: Path) -> None:
        self.db = f"chat_mp_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.db}"')
        self.dsn = f"postgresql://postgres@127.0.0.1:5432/{self.db}"
        self.env = app_env(
            tmp,
            DATABASE_URL=self.dsn,
            REDIS_URL="redis://127.0.0.1:6379/7",
            REDIS_PREFIX=self.db,  # its own keys: another run's cluster may share this Redis database
            ANTHROPIC_BASE_URL=fake.base_url,
            ANTHROPIC_API_KEY="test-key",
            CHAT_CHECKPOINT_INTERVAL="0.3",
            CHAT_ORPHAN_AFTER="2",
        )
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.manage("migrate", "--noinput")
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            "get_user_model().objects.create_user('alice', password='alice-pass-123')",
        )
        for name in ("A", "B"):
            self.start(name)

    def manage(self, *args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True)

    def start(self, name: str) -> None:
        port = free_port()
        log = self.tmp / f"{name}.log"
        with open(log, "wb") as out:
            self.procs[name] = subprocess.Popen(
                [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chatsite.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.ports[name] = port
        _wait_http(f"{self.url(name)}/accounts/login/", self.procs[name], log, 60, f"worker {name}")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> None:
        for proc in self.procs.values():
            _stop(proc)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    def watchers(self, conversation: int) -> int:
        """How many workers the relay routes this conversation's frames to (its Redis watcher set):
        a worker's first tab is registered in the background, once its relay is up."""
        import redis

        with redis.Redis.from_url(self.env["REDIS_URL"]) as client:
            return client.zcard(f"{self.db}:watchers:{conversation}")

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module", name="fake")
def fake_fixture():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module", name="cluster")
def cluster_fixture(fake, tmp_path_factory):
    if not available():
        pytest.skip(NEEDS)
    cluster = Cluster(fake, tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module", name="session")
def session_fixture(cluster):
    """Logged in through A; the session lives in the shared database, so B accepts it too."""
    with httpx.Client(base_url=cluster.url("A")) as anonymous:
        token = anonymous.get("/accounts/login/").cookies["csrftoken"]
        login = anonymous.post(
            "/accounts/login/",
            data={"username": "alice", "password": "alice-pass-123", "csrfmiddlewaretoken": token},
        )
    assert login.status_code == 302
    cookies = {"csrftoken": token, **dict(login.cookies)}  # the login rotates csrftoken
    client = httpx.Client(base_url=cluster.url("A"), cookies=cookies)
    token = cookies["csrftoken"]
    response = client.post("/new/start/", data={"text": "hello"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302, re.findall(r"<pre>(.*?)</pre>", response.text, re.S)[:2]
    conversation = int(re.search(r"/c/(\d+)/", response.headers["location"]).group(1))
    deadline = time.monotonic() + 10
    page = f"{cluster.url('A')}/c/{conversation}/"
    while 'data-status="streaming"' in httpx.get(page, cookies=cookies).text:
        assert time.monotonic() < deadline, "the first reply never finished"
        time.sleep(0.1)  # so the tests' queued replies are not taken by this one
    yield client, token, conversation
    client.close()


def socket_on(cluster, name: str, client: httpx.Client, conversation: int):
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    url = cluster.url(name).replace("http", "ws") + f"/ws/c/{conversation}/"
    return connect(url, additional_headers={"Cookie": cookies, "Origin": cluster.url(name)})


def send_on_a(session, text: str) -> int:
    client, token, conversation = session
    deadline = time.monotonic() + 10
    while True:  # the previous reply may still be finishing
        response = client.post(
            f"/c/{conversation}/send/",
            data={"text": text},
            headers={"X-CSRFToken": token, "HX-Request": "true"},
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 200, response.text
    return int(re.findall(r'data-message="(\d+)"', response.text)[-1])


def frames_until_end(ws, message_id: int) -> list[list]:
    frames = []
    while True:
        frame = json.loads(ws.recv(timeout=15))
        if len(frame) > 1 and frame[1] == message_id:
            frames.append(frame)
            if frame[0] == "e":
                return frames
