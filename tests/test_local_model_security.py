"""The embedded model server is the app's alone: loopback only, a key generated at each start
that only the workers read, and nothing a web page from another origin can use or read."""

import os
import stat

import anthropic
import httpx
import pytest
from django.core.management import CommandError, call_command

from conversations.claude import llm, local_model
from tests.live import embedded_model  # noqa: F401 (session-scoped: the model loads once)

EVIL = "http://evil.example"


class FakeServer:
    """Stands in for xllamacpp.Server: records the params it was started with."""

    started: list = []

    def __init__(self, params):
        FakeServer.started.append(params)


@pytest.fixture
def fake_server(monkeypatch, settings, tmp_path):
    import xllamacpp

    FakeServer.started = []
    monkeypatch.setattr(xllamacpp, "Server", FakeServer)
    settings.CHAT_LOCAL_MODEL_KEY_FILE = tmp_path / "local_model.key"
    return FakeServer


@pytest.mark.parametrize(
    "url", ["http://0.0.0.0:8765", "http://192.168.1.20:8765", "http://example.com:8765", "http://[::]:8765"]
)
def test_it_refuses_to_listen_beyond_loopback(fake_server, settings, url):
    with pytest.raises(ValueError, match="loopback only"):
        local_model.serve(url)
    with pytest.raises(CommandError, match="loopback only"):
        call_command("localmodel", "--url", url)
    assert fake_server.started == []
    assert not settings.CHAT_LOCAL_MODEL_KEY_FILE.exists()


@pytest.mark.parametrize(
    ("url", "bound"),
    [
        ("http://127.0.0.1:8765", "127.0.0.1"),
        ("http://localhost:8765", "127.0.0.1"),
        ("http://[::1]:8765", "::1"),
    ],
)
def test_it_listens_on_loopback_with_a_new_key_only_its_owner_can_read(fake_server, settings, url, bound):
    local_model.serve(url)
    local_model.serve(url)
    first, second = fake_server.started
    assert first.hostnames == [bound]
    assert len(first.api_keys) == 1 and len(first.api_keys[0]) >= 40
    assert first.api_keys != second.api_keys, "each start generates a new key"
    key_file = settings.CHAT_LOCAL_MODEL_KEY_FILE
    assert key_file.read_text() == second.api_keys[0] == local_model.api_key()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name], "no temp file left"
    # No CORS grant, no web UI, no /slots.
    assert "*" not in (second.cors_origins, second.cors_headers, second.cors_methods)
    assert not second.cors_credentials
    assert not second.ui and not second.endpoint_slots


def test_a_container_network_is_an_explicit_choice(fake_server):
    local_model.serve("http://0.0.0.0:8765", allow_non_loopback=True)
    (params,) = fake_server.started
    assert params.hostnames == ["0.0.0.0"] and params.api_keys


async def test_the_client_sends_the_current_key(settings, tmp_path):
    settings.CHAT_USE_LOCAL_MODEL = True
    settings.CHAT_LOCAL_MODEL_KEY_FILE = key_file = tmp_path / "local_model.key"
    assert llm.get_client().api_key == "local", "no key file: a server someone runs without one"
    key_file.write_text("first-key")
    assert llm.get_client().api_key == "first-key"
    (tmp_path / "new").write_text("second-key")
    os.replace(tmp_path / "new", key_file)  # the model restarted, as _write_key does it
    assert llm.get_client().api_key == "second-key"
    assert llm.get_client() is llm.get_client(), "one client while the key stays"


# --------------------------------------------------------------------------- the real server


def _assert_no_cors(response: httpx.Response, what: str) -> None:
    granted = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}
    # llama.cpp always answers a preflight with this one; "false" grants nothing.
    if granted.get("access-control-allow-credentials") == "false":
        del granted["access-control-allow-credentials"]
    assert granted == {}, f"{what}: {granted}"


MESSAGE = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.embedded
def test_another_origin_gets_nothing(embedded_model):  # noqa: F811
    origin = {"Origin": EVIL}
    with httpx.Client(base_url=embedded_model.url, headers=origin, timeout=30) as http:
        for path in ("/props", "/slots", "/v1/models", "/models", "/metrics", "/", "/index.html"):
            response = http.get(path)
            assert response.status_code in (401, 404), f"GET {path}: {response.status_code}"
            assert set(response.json()) == {"error"}, f"GET {path}: {response.text[:200]}"
            _assert_no_cors(response, f"GET {path}")
        for path in ("/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions", "/completion"):
            for kind in ("json", "text/plain"):  # text/plain: a "simple" request, sent without preflight
                if kind == "json":
                    response = http.post(path, json=MESSAGE)
                else:
                    response = http.post(path, content=str(MESSAGE), headers={"content-type": kind})
                assert response.status_code == 401, f"POST {path} ({kind}): {response.text[:200]}"
                _assert_no_cors(response, f"POST {path}")
        preflight = http.options(
            "/v1/messages",
            headers={
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-api-key,authorization",
            },
        )
        _assert_no_cors(preflight, "OPTIONS /v1/messages")
        assert preflight.content == b""
        # The health check (is_up) stays open, but says nothing and grants no origin.
        health = http.get("/health")
        assert health.json() == {"status": "ok"}
        _assert_no_cors(health, "GET /health")


@pytest.mark.embedded
def test_props_and_slots_need_the_key(embedded_model):  # noqa: F811
    key = embedded_model.key_file.read_text()
    for path in ("/props", "/slots"):
        assert httpx.get(f"{embedded_model.url}{path}").status_code == 401, path
        wrong = httpx.get(f"{embedded_model.url}{path}", headers={"Authorization": "Bearer not-the-key"})
        assert wrong.status_code == 401, path
    props = httpx.get(f"{embedded_model.url}/props", headers={"x-api-key": key})
    assert props.status_code == 200 and "default_generation_settings" in props.json()


@pytest.mark.embedded
async def test_the_apps_client_streams_and_a_wrong_key_is_refused(embedded_model, settings, tmp_path):  # noqa: F811
    settings.CHAT_USE_LOCAL_MODEL = True
    settings.CHAT_LOCAL_MODEL_URL = embedded_model.url
    settings.CHAT_LOCAL_MODEL_KEY_FILE = embedded_model.key_file
    request = {
        "model": settings.CHAT_LOCAL_MODEL_NAME,
        "max_tokens": 12,
        "messages": [{"role": "user", "content": "Say hello."}],
    }
    try:
        stream, _ = await llm.open_stream(request)
        text = ""
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text += event.delta.text
        assert text.strip(), "the embedded model streamed no text"

        settings.CHAT_LOCAL_MODEL_KEY_FILE = tmp_path / "stale.key"
        settings.CHAT_LOCAL_MODEL_KEY_FILE.write_text("a-key-from-an-earlier-start")
        with pytest.raises(anthropic.AuthenticationError):
            await llm.open_stream(request)
    finally:
        await llm.close()
