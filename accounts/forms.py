"""Input of the account pages: invitations, and the password that confirms an account's deletion."""

from django import forms
from django.contrib.auth.forms import UserCreationForm

from teams.models import Membership, Team


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    team = forms.ModelChoiceField(label="Team", queryset=Team.objects.none(), required=False)
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices, initial=Membership.Role.MEMBER)

    def __init__(self, *args, teams, team_required: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].required = team_required
        self.fields["team"].empty_label = None if team_required else "No team"


class InvitedSignupForm(UserCreationForm):
    """Sign-up from an invitation: the email address is the invitation's."""

    def __init__(self, *args, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.email = email
