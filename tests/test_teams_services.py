"""Prompt edits publish immutable versions, with their author, only when something changed."""

import pytest
from django.urls import reverse

from teams import selectors, services

pytestmark = pytest.mark.django_db


def test_editing_publishes_a_version_with_author_and_diff(client, people, prompt):
    services.prompt_edit(
        user=people["owner"], prompt=prompt, name="Support tone", text="Be kind.\nBe brief.", cache_ttl="1h"
    )
    assert (
        services.prompt_edit(
            user=people["owner"],
            prompt=prompt,
            name="Support tone",
            text="Be kind.\nBe brief.",
            cache_ttl="1h",
        )
        is None
    )
    versions = list(prompt.versions.order_by("number"))
    assert [(v.number, v.text, v.author.username, v.cache_ttl) for v in versions] == [
        (1, "Be kind.", "editor", "5m"),
        (2, "Be kind.\nBe brief.", "owner", "1h"),
    ]
    (latest, diff), _ = selectors.versions_with_diffs(prompt)
    assert latest.number == 2 and ("added", "+Be brief.") in diff
    client.force_login(people["member"])
    page = client.get(reverse("prompt_detail", args=[prompt.pk])).content.decode()
    assert "v2" in page and "v1" in page and "+Be brief." in page
    assert "Caching, per version" not in page  # analytics are for editors
    assert client.get(reverse("prompt_usage", args=[prompt.pk])).status_code == 404
    client.force_login(people["editor"])
    page = client.get(reverse("prompt_detail", args=[prompt.pk])).content.decode()
    assert reverse("prompt_usage", args=[prompt.pk]) in page
    table = client.get(reverse("prompt_usage", args=[prompt.pk])).content.decode()
    assert "Caching, per version" in table and "No replies yet." in table
