"""The processes the harness starts (and only those), and what /proc says about them."""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
_EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Timeout\w*): ")

# Every child process the harness started and has not reaped yet; `stop_all` ends exactly these.
_children: list[subprocess.Popen] = []


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_list(cpus) -> str:
    """CPUs as taskset writes them: "1" or "0,2"."""
    return ",".join(str(c) for c in sorted(cpus))


def taskset(cpus) -> list[str]:
    """The command prefix that runs a program on these CPUs only (`taskset -c 1`); [] for none."""
    if not cpus:
        return []
    binary = shutil.which("taskset")
    if binary is None:
        raise RuntimeError("--pin needs taskset (util-linux) on PATH")
    return [binary, "-c", cpu_list(cpus)]


def pin_self(cpus) -> None:
    """Pin every thread of this process (and so every thread and child it starts later) to these CPUs."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), set(cpus))
        except ProcessLookupError:  # a thread that ended meanwhile
            pass


def affinity(pid: int) -> list[int]:
    """The CPUs a process may run on, as the kernel has it (what --pin actually did)."""
    try:
        return sorted(os.sched_getaffinity(pid))
    except OSError:
        return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(
    data_dir: Path, fake_url: str, redis_url: str = "", metrics_token: str = "", database_url: str = ""
) -> dict[str, str]:
    """The environment every app process of one run shares."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CHAT_", "ANTHROPIC_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        CHAT_DATA_DIR=str(data_dir),
        ANTHROPIC_BASE_URL=fake_url,
        ANTHROPIC_API_KEY="bench",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    if metrics_token:
        env["CHAT_METRICS_TOKEN"] = metrics_token
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def create_postgres_database(url: str) -> str:
    """A fresh database next to the one `url` names (`<name>_bench_<pid>`); returns its URL."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = f"{(parts.path.lstrip('/') or 'chat')}_bench_{os.getpid()}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres_database(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_python(args: list[str], env: dict[str, str], timeout: float = 600) -> str:
    """Run `python <args>` in the project directory; its stdout, or an error with its output."""
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _children.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _stop(proc)
        raise
    finally:
        if proc in _children:
            _children.remove(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed ({proc.returncode}):\n{err[-4000:]}")
    return out


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        except ProcessLookupError:
            pass


def stop_all() -> None:
    while _children:
        _stop(_children.pop())


def start_py_spy(binary: str, pid: int, path: str, gil: bool = False) -> subprocess.Popen:
    """py-spy recording process `pid` (every thread, 250 samples/s, raw format) into `path`; with
    `gil`, only the thread holding the GIL (a thread waiting for it otherwise shows as busy)."""
    proc = subprocess.Popen(
        [
            binary,
            "record",
            *(["--gil"] if gil else []),
            "--nonblocking",
            "--threads",
            "-r",
            "250",
            "-f",
            "raw",
            "-o",
            path,
            "-p",
            str(pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _children.append(proc)
    return proc


def stop_py_spy(proc: subprocess.Popen) -> None:
    """SIGINT, on which py-spy writes its file."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    if proc in _children:
        _children.remove(proc)


def proc_cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process."""
    return sum(proc_cpu_times(pid))


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (all cores; /proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def thread_cpu_seconds(pid: int, tid: int) -> float:
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) in MiB, and the thread count, from /proc/<pid>/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:", "Threads:")):
                name, value = line.split(":")
                out[name] = int(value.split()[0])
    return {
        "rss_mib": out.get("VmRSS", 0) / 1024,
        "peak_rss_mib": out.get("VmHWM", 0) / 1024,
        "threads": out.get("Threads", 0),
    }


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs), so a phase's peak is its own."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def tcp_send_queues(server_port: int, peer_ports: set[int]) -> int:
    """Bytes the kernel holds unsent on the server side of these connections (/proc/net/tcp tx_queue)."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote, queues = fields[1], fields[2], fields[4]
                    if (
                        int(local.rsplit(":", 1)[1], 16) == server_port
                        and int(remote.rsplit(":", 1)[1], 16) in peer_ports
                    ):
                        total += int(queues.split(":")[0], 16)
        except OSError:
            continue
    return total


class AppServer:
    """One server process (daphne or uvicorn, through bench.server) serving the app on its own port,
    on the CPUs `cpus` (taskset) when given."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        switch_interval: float = 0.0,
        kind: str = "daphne",
        cpus: list[int] | None = None,
        uvicorn_ws: str = "websockets",
    ):
        self.name = name
        self.kind = kind
        self.cpus = list(cpus or [])
        self.uvicorn_ws = uvicorn_ws
        self.metrics_token = env.get("CHAT_METRICS_TOKEN", "")
        self.switch_interval = switch_interval
        self.env = env
        self.port = free_port()
        self.log_path = log_dir / f"{kind}-{name}.log"
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        """`[taskset -c CPUS] python -m bench.server ...`: taskset execs Python, so the pid stays ours."""
        return [
            *taskset(self.cpus),
            sys.executable,
            "-m",
            "bench.server",
            "--server",
            self.kind,
            "--uvicorn-ws",
            self.uvicorn_ws,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--parent-pid",
            str(os.getpid()),
            "--switch-interval",
            str(self.switch_interval),
        ]

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the harness, which then stops us in order
        )
        log.close()
        _children.append(self.proc)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} {self.name} exited at start-up:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + "/accounts/login/", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.kind} {self.name} did not answer within {timeout} s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            if self.proc in _children:
                _children.remove(self.proc)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def new_log_errors(self) -> dict[str, int]:
        """Exception lines the server logged since the last call, counted (e.g. "database is locked")."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                data = f.read()
        except OSError:
            return {}
        self._log_offset += len(data)
        found: dict[str, int] = {}
        for line in data.decode(errors="replace").splitlines():
            if _EXCEPTION_RE.match(line):
                key = line.strip()[:200]
                found[key] = found.get(key, 0) + 1
        return found

    def stats(self, reset: bool = False) -> dict:
        url = self.base_url + "/__bench__/stats" + ("?reset=1" if reset else "")
        with urllib.request.urlopen(url, timeout=30) as resp:
            return json.load(resp)

    def metrics(self) -> str:
        """This process's Prometheus exposition (GET /metrics with the bearer token)."""
        request = urllib.request.Request(
            self.base_url + "/metrics", headers={"Authorization": f"Bearer {self.metrics_token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.read().decode()

    def main_thread_cpu(self) -> float:
        """CPU seconds of the main thread: the server's event loop (the rest is the worker threads)."""
        return thread_cpu_seconds(self.pid, self.pid)

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def cpu_times(self) -> tuple[float, float]:
        return proc_cpu_times(self.pid)

    def memory(self) -> dict[str, float]:
        return proc_memory(self.pid)
