"""What the composer and the settings popover post, parsed the way Django means it.

Ids are strict ASCII digits that fit a database integer (anything else is "no such thing", never
a server error); text refuses NUL characters (PostgreSQL cannot store them) on every database.
"""

import re

from django import forms
from django.core.exceptions import ValidationError

from conversations.claude.params import EFFORTS, MAX_CHOSEN

MAX_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")


def parse_id(value: str) -> int | None:
    """A database id, or None for anything that cannot be one (non-ASCII digits, 30 digits, ...)."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


class IdListField(forms.Field):
    """Repeated ids (`attachment=1&attachment=2`); an id that cannot exist is a validation error."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        ids = [parse_id(v) for v in value or []]
        if None in ids:
            raise ValidationError("No such file.", code="invalid")
        return ids


class LinkListField(forms.Field):
    """Repeated links (`link=https://…&link=…`), as typed: the send checks them (blocks/files.py)
    and says what is wrong with one in the composer."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return [str(v) for v in value or []]


class NameListField(forms.Field):
    """Repeated short names (`connector=github&connector=jira`): the send checks them against what
    the chat offers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        names = [str(v) for v in value or []]
        if len(names) > MAX_CHOSEN or any(not 0 < len(n) <= 120 or "\x00" in n for n in names):
            raise ValidationError("Those connectors or skills cannot be chosen.", code="invalid")
        return names


class MessageForm(forms.Form):
    text = forms.CharField(required=False, strip=False)
    attachment = IdListField(required=False)
    link = LinkListField(required=False)  # images and PDFs by their http(s) link
    # The composer's switches (params.ToolChoice); `switches` says the composer had them.
    switches = forms.BooleanField(required=False)
    web = forms.BooleanField(required=False)
    thinking = forms.BooleanField(required=False)
    effort = forms.ChoiceField(required=False, choices=[(level, level) for level in EFFORTS])
    code = forms.BooleanField(required=False)
    connector = NameListField(required=False)
    skill = NameListField(required=False)


class StartForm(MessageForm):
    model = forms.CharField(required=False, max_length=100)
    prompt = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    timezone = forms.CharField(required=False, max_length=64)
    temporary = forms.BooleanField(required=False)
    project = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class EditForm(forms.Form):
    text = forms.CharField(required=False, strip=False)


class RenameForm(forms.Form):
    title = forms.CharField(max_length=200, error_messages={"required": "A title cannot be empty."})


def first_error(form: forms.Form) -> str:
    """One line for the user: the first thing wrong with the form."""
    return next((errors[0] for errors in form.errors.values()), "")
