"""The review list's filters: any query string gives either clean values or a form error."""

from django import forms
from django.contrib.auth import get_user_model

from chatsite.converters import MAX_ID
from conversations.models import Conversation
from teams.models import Team

from .models import SearchAudit, TranscriptView
from .selectors import STATUSES


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


class ReviewFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=_max_length(get_user_model(), "username"))
    team = forms.CharField(required=False, max_length=_max_length(Team, "name"))
    model = forms.CharField(required=False, max_length=_max_length(Conversation, "model"))
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    status = forms.ChoiceField(required=False, choices=[("", "any"), *((s, s) for s in STATUSES)])
    attachments = forms.BooleanField(required=False, label="Has attachments")
    shared = forms.BooleanField(required=False, label="Shared with a team")
    prompt_version = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, label="Prompt version id"
    )
    q = forms.CharField(required=False, max_length=_max_length(SearchAudit, "query"), label="Search")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data


class OpeningForm(forms.Form):
    reason = forms.CharField(required=False, max_length=_max_length(TranscriptView, "reason"))
