"""Two daphne workers sharing PostgreSQL and Redis: cross-process streaming, stop, snapshot, and
crash recovery after SIGKILL. Skipped (with the reason) when PostgreSQL or Redis is not reachable."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from tests.fakes import FakeAnthropic, Reply
from tests.live import PYTHON, ROOT, _stop, _wait_http, app_env, free_port

pytestmark = pytest.mark.multiprocess
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
LONG = " ".join(f"w{i}" for i in range(150))


def reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


if not (reachable(5432) and reachable(6379)):
    pytest.skip("needs PostgreSQL on 5432 and Redis on 6379", allow_module_level=True)


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

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def fake():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def cluster(fake, tmp_path_factory):
    cluster = Cluster(fake, tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def session(cluster):
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


def test_a_reply_generated_on_a_streams_to_a_socket_on_b(cluster, fake, session):
    client, _, conversation = session
    with socket_on(cluster, "B", client, conversation) as ws:
        fake.enqueue(Reply(LONG, tokens_per_second=200))
        message = send_on_a(session, "stream across")
        frames = frames_until_end(ws, message)
    assert [f[2] for f in frames] == list(range(1, len(frames) + 1))
    assert "".join(f[3] for f in frames if f[0] == "d") == LONG
    assert 'data-status="complete"' in frames[-1][3]


def test_stop_sent_through_b_cancels_the_generation_on_a(cluster, fake, session):
    client, _, conversation = session
    with socket_on(cluster, "B", client, conversation) as ws:
        fake.enqueue(Reply(LONG, tokens_per_second=30))
        message = send_on_a(session, "then stop")
        while json.loads(ws.recv(timeout=15))[0] != "d":
            pass
        sent_before = len(fake.replies[-1].text_sent)
        stop_at = time.monotonic()
        ws.send(json.dumps({"type": "stop", "message": message}))
        frames = frames_until_end(ws, message)
        stopped_after = time.monotonic() - stop_at
    print(f"\nstop on B -> cancelled on A, final frame on B: {stopped_after * 1000:.0f} ms")
    assert 'data-status="stopped"' in frames[-1][3]
    time.sleep(0.5)
    assert len(fake.replies[-1].text_sent) < len(LONG)  # the upstream request was closed
    assert len(fake.replies[-1].text_sent) >= sent_before
    [(status,)] = cluster.sql("SELECT status FROM conversations_message WHERE id = %s", message)
    assert status == "stopped"


def test_a_tab_joining_on_b_mid_stream_gets_the_snapshot(cluster, fake, session):
    client, _, conversation = session
    fake.enqueue(Reply(LONG, tokens_per_second=60))
    message = send_on_a(session, "join late")
    time.sleep(0.6)
    with socket_on(cluster, "B", client, conversation) as ws:
        ws.send(json.dumps({"type": "resync", "message": message}))
        frames = frames_until_end(ws, message)
    snapshot = next(f for f in frames if f[0] == "s")
    text = snapshot[3][0][2]
    assert text and LONG.startswith(text) and text != LONG
    after = [f for f in frames if f[0] == "d" and f[2] > snapshot[2]]
    assert text + "".join(f[3] for f in after) == LONG


def test_two_sends_at_once_on_two_workers_start_exactly_one_reply(cluster, fake, session):
    import concurrent.futures

    client, token, conversation = session
    cookies = dict(client.cookies)
    fake.enqueue(Reply(LONG, tokens_per_second=100), Reply(LONG, tokens_per_second=100))
    time.sleep(1)  # earlier replies are done

    def send(worker: str) -> int:
        with httpx.Client(base_url=cluster.url(worker), cookies=cookies) as c:
            return c.post(
                f"/c/{conversation}/send/",
                data={"text": f"race {worker}"},
                headers={"X-CSRFToken": token, "HX-Request": "true"},
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(send, ["A", "B"]))
    assert codes == [200, 422]
    streaming = cluster.sql("SELECT count(*) FROM conversations_message WHERE status = 'streaming'")
    assert streaming == [(1,)]
    deadline = time.monotonic() + 15
    while cluster.sql("SELECT count(*) FROM conversations_message WHERE status = 'streaming'") != [(0,)]:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_a_killed_worker_leaves_no_reply_streaming(cluster, fake, session):
    fake.enqueue(Reply(LONG, tokens_per_second=40))
    message = send_on_a(session, "crash now")
    time.sleep(1.2)  # a few checkpoints
    cluster.procs["A"].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    cluster.procs["A"].wait(5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        [(status,)] = cluster.sql("SELECT status FROM conversations_message WHERE id = %s", message)
        if status != "streaming":
            break
        time.sleep(0.3)
    print(f"\nSIGKILL -> interrupted: {time.monotonic() - killed_at:.1f} s (CHAT_ORPHAN_AFTER=2)")
    assert status == "interrupted"  # swept by worker B
    [(payload,)] = cluster.sql(
        "SELECT payload FROM conversations_contentblock WHERE message_id = %s", message
    )
    assert payload["text"] and LONG.startswith(payload["text"])
    cluster.start("A")  # back for any later test
