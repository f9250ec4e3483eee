"""The staff form for a connector (the admin's): the shared token write-only, the tools as text.

The app runs no MCP client (the API connects to the server), so it cannot ask a server for its
tools: staff copy them from the server's documentation, one a line, `name — description`.
"""

import re

from django import forms
from django.core.validators import URLValidator

from conversations.connectors import secrets
from conversations.models import Connector

MAX_TOOLS = 200
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]+")
# `name — description`; an en dash or a spaced hyphen also separates, and the description may be left out.
TOOL_LINE = re.compile(r"(?P<name>[^\s—–]+)(?:\s*(?:—|–|\s-\s)\s*(?P<description>.*))?")


def tools_as_text(tools: list[dict]) -> str:
    return "\n".join(
        f"{t['name']} — {t['description']}" if t.get("description") else t["name"] for t in tools
    )


def parse_tools(text: str) -> list[dict]:
    """[{"name", "description"}] from one tool a line; ValidationError naming each bad line."""
    tools, errors, seen = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = TOOL_LINE.fullmatch(line.strip())
        name = match["name"] if match else ""
        if not match or not TOOL_NAME.fullmatch(name):
            errors.append(
                f"Line {number}: write the tool's name (letters, digits, _ and - only), then “—” and "
                "what it does."
            )
        elif name in seen:
            errors.append(f"Line {number}: {name} is already on line {seen[name]}.")
        else:
            seen[name] = number
            tools.append({"name": name, "description": (match["description"] or "").strip()})
    if len(tools) > MAX_TOOLS:
        errors.append(f"At most {MAX_TOOLS} tools ({len(tools)} listed).")
    if errors:
        raise forms.ValidationError(errors)
    return tools


class ConnectorAdminForm(forms.ModelForm):
    token = forms.CharField(
        label="Shared token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Sent by everyone's chats when people authenticate with one shared token. "
        "Never shown again: leave it empty to keep the stored one.",
    )
    clear_token = forms.BooleanField(label="Remove the stored shared token", required=False)
    tools_text = forms.CharField(
        label="Tools",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="One a line, as the server's documentation lists them: name — description. "
        "The app runs no MCP client, so it cannot ask the server itself.",
    )

    class Meta:
        model = Connector
        fields = ["name", "title", "url", "auth", "teams"]
        help_texts = {"name": "The server's name in API requests: letters, digits, _ and -."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The API's MCP connector reaches https servers only: an http one would fail every request.
        self.fields["url"].validators = [URLValidator(schemes=["https"])]
        self.fields["url"].help_text = "The MCP server's https address, reachable from the internet."
        if not self.is_bound:
            self.initial["tools_text"] = tools_as_text(self.instance.tools)
        self.fields["token"].help_text += " " + self.stored_token_state()

    def stored_token_state(self) -> str:
        stored = self.instance.shared_token
        if not stored:
            return "No token is stored."
        if secrets.readable(stored) is None:
            return "The stored token no longer decrypts (CHAT_SECRETS_KEY changed): enter it again."
        return "A token is stored."

    def clean_tools_text(self) -> list[dict]:
        return parse_tools(self.cleaned_data["tools_text"])

    def clean(self) -> dict:
        cleaned = super().clean()
        keeps = secrets.readable(self.instance.shared_token) is not None and not cleaned.get("clear_token")
        if cleaned.get("auth") == Connector.Auth.SHARED and not cleaned.get("token") and not keeps:
            self.add_error("token", "People authenticate with one shared token here: enter it.")
        return cleaned

    def save(self, commit: bool = True) -> Connector:
        connector = super().save(commit=False)
        connector.tools = self.cleaned_data["tools_text"]
        if self.cleaned_data["auth"] != Connector.Auth.SHARED or self.cleaned_data["clear_token"]:
            connector.shared_token = ""  # a token nobody sends is not kept
        if self.cleaned_data["token"] and self.cleaned_data["auth"] == Connector.Auth.SHARED:
            connector.shared_token = secrets.encrypt(self.cleaned_data["token"])
        if commit:
            connector.save()
            self._save_m2m()
        return connector
