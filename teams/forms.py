"""The shape of team, membership and prompt input: lengths from the models, known choices, team ids
that are ids, no NUL characters (Django's CharField refuses them). Rules about the data itself
(names taken, the last owner, prompt length) stay in services."""

from django import forms
from django.core.validators import RegexValidator

from chatsite.forms import error_text

from .models import Membership, PromptVersion, SystemPrompt, Team
from .services import TeamError

TOO_LONG = "at most %(limit_value)d characters (this one has %(show_value)d)."


def checked(form: forms.Form) -> dict:
    """The cleaned data, or TeamError naming every bad field: views answer bad input and a refused
    write the same way (422 and the message)."""
    if not form.is_valid():
        raise TeamError(error_text(form))
    return form.cleaned_data


def _name(model, label: str = "Name") -> forms.CharField:
    # Not required here: the services say "needs a name" for blank ones.
    max_length = model._meta.get_field("name").max_length
    return forms.CharField(
        label=label, required=False, max_length=max_length, error_messages={"max_length": TOO_LONG}
    )


class TeamForm(forms.Form):
    name = _name(Team, "Team name")


class MemberAddForm(forms.Form):
    user = forms.CharField(label="Username or email", required=False, max_length=254)
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices)


class MemberUpdateForm(forms.Form):
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Change role"), ("remove", "Remove")]
    )
    role = forms.ChoiceField(label="Role", required=False, choices=Membership.Role.choices)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("action") != "remove" and not data.get("role") and "role" not in self.errors:
            self.add_error("role", "Choose a role.")
        return data


class PromptForm(forms.Form):
    name = _name(SystemPrompt)
    text = forms.CharField(label="Prompt", required=False, strip=False)  # prompt_create/edit normalise it
    cache_ttl = forms.ChoiceField(label="Cache lifetime", choices=PromptVersion.CacheTTL.choices)


class NewPromptForm(PromptForm):
    # ASCII digits only: int() would also read "١٢" as 12. Empty: a personal prompt.
    team = forms.CharField(
        label="Team",
        required=False,
        validators=[RegexValidator(r"\A[0-9]{1,18}\Z", "Choose a team from the list.")],
    )

    def clean_team(self) -> int | None:
        return int(self.cleaned_data["team"]) if self.cleaned_data["team"] else None
