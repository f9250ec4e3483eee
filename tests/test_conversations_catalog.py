"""The model catalog: listed by the API, the configured fallback, or the embedded model alone."""

import pytest

from conversations.claude import catalog

pytestmark = pytest.mark.usefixtures("fresh_catalog")


def test_models_come_from_the_api_with_display_names(fake_api):
    choices = catalog.available()
    assert [c.id for c in choices][:2] == ["claude-sonnet-4-6", *[c.id for c in choices][1:2]]
    assert choices[0].display_name == "Claude Sonnet 4.6"
    assert any(r.path == "/v1/models" for r in fake_api.requests)
    fake_api.reset()
    catalog.available()
    assert not fake_api.requests  # cached


def test_listing_failure_falls_back_to_the_configured_list(settings):
    settings.CHAT_USE_LOCAL_MODEL = False
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.CHAT_API_MAX_RETRIES = 0
    ids = [c.id for c in catalog.available()]
    assert ids[: len(catalog.FALLBACK)] == catalog.FALLBACK or set(catalog.FALLBACK) <= set(ids)


def test_the_embedded_model_is_listed_as_local(settings):
    settings.CHAT_USE_LOCAL_MODEL = True
    [choice] = catalog.available()
    assert choice.local and choice.id == settings.CHAT_LOCAL_MODEL_NAME
