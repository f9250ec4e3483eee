"""Two daphne workers sharing PostgreSQL and Redis: a reply streamed to a tab on the other worker,
and a snapshot for a tab joining there. Skipped (with the reason) when PostgreSQL or Redis is not
reachable. The cluster is tests/cluster.py; its faults (Stop across processes, two sends on two
workers, a worker killed mid-reply) are in tests/test_faults.py."""

from __future__ import annotations

import json
import time

import pytest

from fakes import Reply
from tests.cluster import (  # noqa: F401 (fixtures)
    LONG,
    NEEDS,
    available,
    cluster_fixture,
    fake_fixture,
    frames_until_end,
    send_on_a,
    session_fixture,
    socket_on,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.multiprocess

if not available():
    pytest.skip(NEEDS, allow_module_level=True)


def test_a_reply_generated_on_a_streams_to_a_socket_on_b(cluster, fake, session):
    client, _, conversation = session
    with socket_on(cluster, "B", client, conversation) as ws:
        # B is watching once its relay has registered the tab (A has no tab): frames sent before
        # that reach B's tab as a gap and a snapshot, not in sequence.
        wait_until(lambda: cluster.watchers(conversation), what="B to watch the conversation")
        fake.enqueue(Reply(LONG, tokens_per_second=200))
        message = send_on_a(session, "stream across")
        frames = frames_until_end(ws, message)
    assert [f[2] for f in frames] == list(range(1, len(frames) + 1))
    assert "".join(f[3] for f in frames if f[0] == "d") == LONG
    assert 'data-status="complete"' in frames[-1][3]


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
