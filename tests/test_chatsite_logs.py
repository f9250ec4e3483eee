import json
import logging

from chatsite.logs import ContextFilter, JsonFormatter, request_id


def test_json_lines_carry_the_request_id_and_never_an_api_key():
    record = logging.LogRecord(
        "chat", logging.WARNING, __file__, 1, "key %s failed", ("sk-ant-api03-SECRET",), None
    )
    token = request_id.set("abc123")
    try:
        ContextFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc123" and line["level"] == "WARNING"
    assert "SECRET" not in line["message"] and "sk-ant-[redacted]" in line["message"]


def test_responses_carry_a_request_id(client):
    response = client.get("/accounts/login/", headers={"X-Request-ID": "from-proxy-1"})
    assert response["X-Request-ID"] == "from-proxy-1"
    generated = client.get("/accounts/login/", headers={"X-Request-ID": "bad id with spaces"})["X-Request-ID"]
    assert len(generated) == 32 and " " not in generated
