"""The capability table turns parameter combinations a model refuses into form errors."""

import pytest

from conversations.claude import params
from conversations.claude.capabilities import capabilities


@pytest.mark.parametrize(
    ("model", "data", "error"),
    [
        ("claude-opus-4-8", {"temperature": 0.5}, "does not accept temperature"),
        ("claude-opus-4-8", {"top_k": 5}, "does not accept top_k"),
        ("claude-haiku-4-5", {"thinking": True}, "does not support adaptive thinking"),
        ("claude-haiku-4-5", {"effort": "high"}, "does not take an effort level"),
        ("claude-sonnet-4-6", {"temperature": 0.5, "top_p": 0.9}, "not both"),
        ("claude-sonnet-4-6", {"thinking": True, "temperature": 0.2}, "cannot be combined with thinking"),
        ("claude-sonnet-4-6", {"max_tokens": 10**6}, "at most 64,000"),
        ("claude-sonnet-4-6", {"temperature": 3}, "temperature"),
        ("claude-sonnet-4-6", {"stop_sequences": ["  "]}, "stop sequence"),
        ("claude-sonnet-4-6", {"effort": "extreme"}, "effort"),
    ],
)
def test_the_capability_table_turns_bad_combinations_into_form_errors(model, data, error):
    parsed, errors = params.parse(data, capabilities(model))
    assert parsed is None and any(error in e for e in errors), errors
