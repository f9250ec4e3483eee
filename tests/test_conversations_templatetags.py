"""conversations/templatetags/chat.py."""

import pytest
from django.urls import NoReverseMatch, reverse

from conversations.templatetags.chat import message_url

NAMES = ["edit_form", "continue_reply", "retry_reply", "regenerate_reply", "choose_version"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pk", [1, 7, 10, 900000000000000001])
def test_message_url_is_what_reverse_gives(name, pk):
    assert message_url(name, pk) == reverse(name, args=[pk])


def test_message_url_refuses_a_url_that_does_not_take_one_id():
    with pytest.raises(NoReverseMatch):
        message_url("new_chat", 1)
