# The world fixture is imported from tests.hostile_input: test arguments shadow it by design.
# ruff: noqa: F811
"""Hostile input to every URL the app serves: shard 3 of the walk (tests/hostile_input.py)."""

import pytest

from tests.hostile_input import no_hostile_input_makes_a_server_error, world  # noqa: F401 (a pytest fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_catalog")]


def test_no_hostile_input_makes_a_server_error(world, caplog, monkeypatch):
    no_hostile_input_makes_a_server_error(3, world, caplog, monkeypatch)
