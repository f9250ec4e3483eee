"""Shared form helpers."""

from django import forms


def error_text(form: forms.Form) -> str:
    """Every error of a bound form as one sentence each, naming its field: the alert a page shows."""
    lines = [str(error) for error in form.non_field_errors()]
    lines += [f"{field.label}: {error}" for field in form for error in field.errors]
    return " ".join(lines)
