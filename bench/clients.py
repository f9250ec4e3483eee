"""Benchmark clients: the browser (one HTTP session, real logins) and its tabs (real websockets).

A `Client` is one browser tab: it logs in over HTTP, opens its conversation's websocket, sends a
message the way the composer does (over that open socket by default: `{"type": "send", ...}`,
answered by an `a` frame carrying the turn's HTML; or by POST to the htmx endpoint, the fallback),
and applies frames the way static/conversations/chat.js does (bench/frames.py: sequence numbers,
gap -> resync, snapshots), recording when each frame arrives (time.monotonic(), the clock the fake
API stamps its deltas with). The `Browser` logs each user in once and opens a phase's tabs.
"""

import asyncio
import base64
import json
import os
import re
import socket
import time
from collections import Counter

import aiohttp

from bench.frames import ReplyView

_ASSISTANT_ID_RE = re.compile(r'id="message-(\d+)"[^>]*data-role="assistant"')
_REPLY_IN_TURN_RE = re.compile(r'data-message="(\d+)"[^>]*data-role="assistant"')


class BenchError(Exception):
    pass


async def bounded(coros, limit: int) -> list:
    """Await the coroutines, at most `limit` at a time; their results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(coro):
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> dict[str, str]:
    """Django's login form, as a browser submits it. Returns the cookies (csrftoken, sessionid)."""
    async with session.get(base + "/accounts/login/") as resp:
        await resp.read()
        if resp.status != 200 or "csrftoken" not in resp.cookies:
            raise BenchError(f"GET /accounts/login/ answered {resp.status} without a csrftoken cookie")
        cookies = {"csrftoken": resp.cookies["csrftoken"].value}
    async with session.post(
        base + "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": cookies["csrftoken"]},
        headers={
            "Cookie": cookie_header(cookies),
            "Origin": base,
            "Referer": base + "/accounts/login/",
        },
        allow_redirects=False,
    ) as resp:
        await resp.read()
        cookies.update({name: morsel.value for name, morsel in resp.cookies.items()})
        if resp.status != 302 or "sessionid" not in cookies:
            raise BenchError(f"login of {username} answered {resp.status} without a session cookie")
    return cookies


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def post_message(
    session: aiohttp.ClientSession, base: str, conversation: int, cookies: dict[str, str], text: str
) -> tuple[int, str, float]:
    """The composer's htmx POST to /c/<id>/send/: its status, body, and when the body arrived."""
    page = base + f"/c/{conversation}/"
    async with session.post(
        page + "send/",
        data={"text": text},
        headers={
            "Cookie": cookie_header(cookies),
            "X-CSRFToken": cookies["csrftoken"],
            "Origin": base,
            "Referer": page,
            "HX-Request": "true",
            "HX-Current-URL": page,
        },
    ) as resp:
        body = await resp.text()
        return resp.status, body, time.monotonic()


class Client:
    """One browser tab on one conversation: its socket, its send, and the replies it has seen."""

    def __init__(
        self,
        index: int,
        username: str,
        conversation: int,
        send_base: str,
        watch_base: str,
        cookies: dict[str, str],
    ):
        self.index = index
        self.username = username
        self.conversation = conversation
        self.send_base = send_base
        self.watch_base = watch_base
        self.cookies = cookies
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task | None = None
        self.replies: dict[int, ReplyView] = {}
        self.reply_id: int | None = None
        self.via = ""  # "ws" or "post"
        self.sent_at: float | None = None  # the Send: socket frame written, or POST started
        self.answered_at: float | None = None  # the "a" frame, or the POST's response
        self.opened_at: float | None = None
        self.post_status = 0
        self.send_id = ""
        self._answer: asyncio.Future | None = None
        self.error = ""
        self.controls: list[str] = []  # "x" frames
        self.resyncs_sent = 0
        self.closed_code: int | None = None
        self._first_frame = asyncio.Event()
        self._ended = asyncio.Event()

    # --- websocket -----------------------------------------------------------------------------

    async def open(self, session: aiohttp.ClientSession) -> None:
        url = self.watch_base.replace("http://", "ws://", 1) + f"/ws/c/{self.conversation}/"
        self.ws = await session.ws_connect(
            url,
            headers={"Cookie": cookie_header(self.cookies), "Origin": self.watch_base},
            autoping=True,
            heartbeat=None,
            compress=0,  # what daphne does anyway: no permessage-deflate
            max_msg_size=0,
        )
        self.opened_at = time.monotonic()
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            now = time.monotonic()
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = msg.data
                self._on_frame(now, len(data.encode()), json.loads(data))
            elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                break
        self.closed_code = self.ws.close_code

    def _on_frame(self, now: float, size: int, frame: list) -> None:
        kind = frame[0]
        if kind == "x":
            self.controls.append(str(frame[1]))
            return
        if kind in ("a", "n"):  # the answer to a send over this socket
            if frame[1] == self.send_id and self._answer is not None and not self._answer.done():
                self._answer.set_result((now, frame))
            return
        if kind == "r":
            for view in self.replies.values():
                if view.ended_at is None:
                    self._resync(view)
            return
        view = self.replies.get(frame[1])
        if view is None:
            view = self.replies[frame[1]] = ReplyView(frame[1])
        if view.apply(now, size, frame):
            self._resync(view)
        if self.reply_id is None or view.message_id == self.reply_id:
            self._first_frame.set()
            if view.ended_at is not None:
                self._ended.set()

    def _resync(self, view: ReplyView) -> None:
        view.awaiting_snapshot = True
        if self.ws is not None and not self.ws.closed:
            self.resyncs_sent += 1
            asyncio.ensure_future(
                self.ws.send_str(json.dumps({"type": "resync", "message": view.message_id}))
            )

    # --- the message ---------------------------------------------------------------------------

    async def send(self, session: aiohttp.ClientSession, text: str, via: str = "ws") -> None:
        """Send the message as the composer does: over the open socket ("ws") or by POST."""
        if via == "ws":
            await self.send_ws(text)
        else:
            await self.send_post(session, text)

    async def send_ws(self, text: str) -> None:
        """`{"type": "send"}` over this tab's socket; the reply's id comes in the `a` frame."""
        assert self.ws is not None
        self.via = "ws"
        self.send_id = f"bench-{self.index}-{self.conversation}"
        self._answer = asyncio.get_running_loop().create_future()
        frame = json.dumps({"type": "send", "id": self.send_id, "text": text, "attachments": []})
        self.sent_at = time.monotonic()
        try:
            await self.ws.send_str(frame)
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.error = f"socket send failed: {exc!r}"
            return
        # The reader task resolves the future; a closed socket never answers (wait() times out).
        reader = self.reader
        done, _ = await asyncio.wait(
            [self._answer, *([reader] if reader is not None else [])], return_when=asyncio.FIRST_COMPLETED
        )
        if not self._answer.done():
            self.error = f"socket closed before the send was answered (code {self.closed_code})"
            return
        self.answered_at, answer = self._answer.result()
        if answer[0] == "n":
            self.error = f"send refused: {answer[2]!r}"
            return
        match = _REPLY_IN_TURN_RE.search(answer[2])
        if match is None:
            self.error = f"the a frame names no reply: {answer[2][:200]!r}"
            return
        self._learned(int(match.group(1)))

    async def send_post(self, session: aiohttp.ClientSession, text: str) -> None:
        """POST through the composer's htmx endpoint; learn the reply's id from the partial."""
        self.via = "post"
        self.sent_at = time.monotonic()
        try:
            self.post_status, body, self.answered_at = await post_message(
                session, self.send_base, self.conversation, self.cookies, text
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.error = f"POST failed: {exc!r}"
            return
        match = _ASSISTANT_ID_RE.search(body)
        if self.post_status != 200 or match is None:
            self.error = f"POST answered {self.post_status}: {body[:200]!r}"
            return
        self._learned(int(match.group(1)))

    def _learned(self, reply_id: int) -> None:
        self.reply_id = reply_id
        view = self.replies.get(self.reply_id)
        if view is not None:
            self._first_frame.set()
            if view.ended_at is not None:
                self._ended.set()
        # Frames of other replies (none expected) would have set the events too early.
        elif self._first_frame.is_set() or self._ended.is_set():
            self._first_frame.clear()
            self._ended.clear()

    async def wait(self, first_frame_timeout: float, stream_timeout: float) -> None:
        """Until the reply's end frame; records why not on timeout (never raises)."""
        if self.error:
            return
        try:
            async with asyncio.timeout(first_frame_timeout):
                await self._first_frame.wait()
        except TimeoutError:
            self.error = f"no frame within {first_frame_timeout:g} s"
            return
        try:
            async with asyncio.timeout(stream_timeout):
                await self._ended.wait()
        except TimeoutError:
            self.error = f"no end frame within {stream_timeout:g} s"

    @property
    def view(self) -> ReplyView | None:
        return self.replies.get(self.reply_id) if self.reply_id is not None else None


class Browser:
    """The run's HTTP session: each user logged in once, the tabs a phase opens, the pages it reads."""

    def __init__(self, users: list[dict], password: str):
        self.users = users  # bench.dbsetup's: username and conversation ids, one per phase
        self.password = password
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
        )
        self._cookies: dict[str, dict[str, str]] = {}

    async def close(self) -> None:
        await self.session.close()

    async def cookies_for(self, base: str, username: str, password: str = "") -> dict[str, str]:
        if username not in self._cookies:
            self._cookies[username] = await login(self.session, base, username, password or self.password)
        return self._cookies[username]

    def assignments(self, index: int, n: int) -> list[tuple[str, int]]:
        """(username, conversation) of the first n users, for the phase in slot `index`."""
        return [(u["username"], u["conversations"][index]) for u in self.users[:n]]

    async def tabs(self, assignments: list[tuple[str, int]], servers: list, cross: bool) -> list[Client]:
        """A logged-in tab per assignment, spread over the servers; with `cross` each watches on the
        server after the one it sends through."""
        cookies = await bounded([self.cookies_for(servers[0].base_url, u) for u, _ in assignments], 16)
        tabs = []
        k = len(servers)
        for i, ((username, conversation), jar) in enumerate(zip(assignments, cookies, strict=True)):
            send = servers[i % k]
            watch = servers[(i + 1) % k] if cross else send
            tabs.append(Client(i, username, conversation, send.base_url, watch.base_url, jar))
        return tabs

    async def stored_statuses(self, clients: list[Client]) -> Counter:
        """For replies a tab never saw end: the status the watching server's page shows for each."""
        return Counter(await bounded([self._stored_status(c) for c in clients], 16))

    async def _stored_status(self, client: Client) -> str:
        url = f"{client.watch_base}/c/{client.conversation}/"
        try:
            async with self.session.get(url, headers={"Cookie": cookie_header(client.cookies)}) as resp:
                body = await resp.text()
        except aiohttp.ClientError as exc:
            return f"page failed: {exc!r}"
        match = re.search(rf'id="message-{client.reply_id}"[^>]*data-status="(\w+)"', body)
        return match.group(1) if match else "missing"


async def open_slow_socket(base: str, conversation: int, cookies: dict[str, str]) -> socket.socket:
    """A websocket that completes the handshake and then never reads (a tab stuck on a slow link)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/c/{conversation}/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {base}\r\nCookie: {cookie_header(cookies)}\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1), 10)
        if not chunk:
            raise BenchError("slow client: connection closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise BenchError(f"slow client: handshake answered {head.splitlines()[0]!r}")
    return sock
