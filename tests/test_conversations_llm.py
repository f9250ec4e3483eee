"""The pure parts of conversations/claude/llm.py: what the person is told for each error the SDK
raises (naming the server that answered), which errors mean a file the API no longer has, the
token counts read from the SDK's usage objects, and the local token estimate."""

import anthropic
import httpx2
import pytest
from anthropic.types import CacheCreation, MessageDeltaUsage, ServerToolUsage, Usage

from conversations.claude import llm

REQUEST = httpx2.Request("POST", "https://api.example/v1/messages")


@pytest.fixture(autouse=True)
def claude_api(settings):
    """The Claude API answers (the embedded model is the default when no API is configured)."""
    settings.CHAT_USE_LOCAL_MODEL = False


def status_error(error_class: type[anthropic.APIStatusError], status: int, body=None) -> Exception:
    response = httpx2.Response(status, request=REQUEST, headers={"request-id": "req_42"})
    return error_class("the SDK's message", response=response, body=body)


def error_body(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


# --- what the person is told -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_class", "status", "shown"),
    [
        (anthropic.BadRequestError, 400, "The Claude API rejected the request as invalid"),
        (anthropic.AuthenticationError, 401, "The API key is invalid"),
        (anthropic.PermissionDeniedError, 403, "The API key is not allowed to use this model or feature"),
        (anthropic.NotFoundError, 404, "The model or endpoint was not found"),
        (anthropic.RequestTooLargeError, 413, "The conversation is too large for the Claude API"),
        (anthropic.RateLimitError, 429, "The Claude API is rate limiting this instance; try again shortly"),
        (anthropic.InternalServerError, 500, "The Claude API had an internal error"),
        (anthropic.OverloadedError, 529, "The Claude API is overloaded; try again shortly"),
    ],
)
def test_an_error_without_a_body_is_named_by_its_class_with_the_request_id(error_class, status, shown):
    assert llm.describe_error(status_error(error_class, status)) == (shown, "req_42")


def test_the_error_type_in_the_body_decides_and_its_message_follows():
    # An `error` event mid-stream arrives on an HTTP 200: only the body says what it was.
    exc = status_error(anthropic.APIStatusError, 200, error_body("overloaded_error", "Overloaded"))
    assert llm.describe_error(exc) == (
        "The Claude API is overloaded; try again shortly (Overloaded)",
        "req_42",
    )


def test_an_error_type_nobody_knows_is_a_refusal_with_its_message_cut_to_300_characters():
    exc = status_error(anthropic.BadRequestError, 400, error_body("brand_new_error", "x" * 500))
    message, _ = llm.describe_error(exc)
    assert message == f"The Claude API refused the request ({'x' * 300})"


def test_a_body_that_is_not_an_object_is_ignored():
    exc = status_error(anthropic.RateLimitError, 429, body="<html>busy</html>")
    assert llm.describe_error(exc)[0] == "The Claude API is rate limiting this instance; try again shortly"


def test_errors_before_any_status_are_a_stall_an_unreachable_server_or_a_cut():
    assert llm.describe_error(TimeoutError()) == (
        "The reply stalled: no data arrived from the Claude API in time",
        "",
    )
    assert llm.describe_error(anthropic.APIConnectionError(request=REQUEST)) == (
        "Could not reach the Claude API: it refused or dropped the connection",
        "",
    )
    assert llm.describe_error(httpx2.RemoteProtocolError("incomplete chunked read")) == (
        "The connection to the Claude API was cut mid-reply",
        "",
    )


def test_an_api_error_without_a_status_shows_its_message():
    exc = anthropic.APIError("Stream ended early", REQUEST, body=None)
    assert llm.describe_error(exc) == ("The Claude API sent an error: Stream ended early", "")


def test_the_local_model_is_named_when_it_is_the_server(settings):
    settings.CHAT_USE_LOCAL_MODEL = True
    assert llm.server_name() == "the local model"
    assert llm.describe_error(status_error(anthropic.OverloadedError, 529))[0] == (
        "The local model is overloaded; try again shortly"
    )
    assert llm.describe_error(anthropic.APIConnectionError(request=REQUEST))[0].startswith(
        "Could not reach the local model"
    )


# --- a file the API no longer has --------------------------------------------------------------


def test_a_404_means_a_file_is_missing_when_the_request_had_files():
    exc = status_error(anthropic.NotFoundError, 404, error_body("not_found_error", "File not found"))
    assert llm.is_missing_file(exc, {"file_1"})
    assert not llm.is_missing_file(exc, set())  # no files: the model or endpoint is missing


def test_a_400_means_a_file_is_missing_only_when_it_names_one_of_them():
    naming = status_error(
        anthropic.BadRequestError, 400, error_body("invalid_request_error", "file_2 expired")
    )
    other = status_error(
        anthropic.BadRequestError, 400, error_body("invalid_request_error", "bad max_tokens")
    )
    assert llm.is_missing_file(naming, {"file_1", "file_2"})
    assert not llm.is_missing_file(other, {"file_1", "file_2"})


def test_other_failures_never_mean_a_missing_file():
    files = {"file_1"}
    assert not llm.is_missing_file(
        status_error(anthropic.InternalServerError, 500, error_body("x", "file_1")), files
    )
    assert not llm.is_missing_file(anthropic.APIConnectionError(request=REQUEST), files)
    assert not llm.is_missing_file(TimeoutError(), files)


# --- usage -------------------------------------------------------------------------------------


def test_usage_fields_are_the_token_counts_the_usage_carries():
    usage = Usage(
        input_tokens=10,
        output_tokens=5,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=None,
        server_tool_use=ServerToolUsage(web_search_requests=2, web_fetch_requests=1),
        cache_creation=CacheCreation(ephemeral_1h_input_tokens=60, ephemeral_5m_input_tokens=40),
    )
    assert llm.usage_fields(usage) == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_creation_input_tokens": 100,
        "web_search_requests": 2,
        "web_fetch_requests": 1,
        "cache_creation_1h_input_tokens": 60,
    }


def test_a_message_delta_carries_only_what_changed():
    assert llm.usage_fields(MessageDeltaUsage(output_tokens=7)) == {"output_tokens": 7}


def test_the_local_estimate_is_about_four_characters_a_token_and_never_zero():
    assert llm.estimate_tokens({}) == 1
    fields = {"messages": [{"role": "user", "content": "x" * 4000}]}
    assert 1000 <= llm.estimate_tokens(fields) <= 1020
