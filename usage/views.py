"""The staff usage dashboard (with CSV export of every table) and each team's usage for its owners."""

import csv
from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from chatsite.access import staff_required
from conversations.spending import totals
from teams.models import Membership
from teams.selectors import membership_for, prompt_access

from . import charts, selectors

MAX_DAYS = 366
TABLES = {
    "daily": ("day", selectors.per_day),
    "users": ("user", selectors.by_user),
    "teams": ("team", selectors.by_team),
    "projects": ("project", selectors.by_project),
    "models": ("model", selectors.by_model),
    "prompts": ("prompt", selectors.by_prompt_version),
    "conversations": ("conversation", selectors.most_expensive_conversations),
}
# `cost` and the tokens cover every request; the overhead columns the calls that are not a reply
# (titles), which the table's groups paid for.
COLUMNS = [
    "replies",
    "input",
    "cache_write",
    "cache_read",
    "output",
    "hit_rate",
    "cost",
    "saved",
    "overhead_calls",
    "overhead_cost",
]


def date_range(request: HttpRequest) -> tuple[date, date, str]:
    """The chosen range (default: the last 30 days), or the default with an error message."""
    today = timezone.now().date()
    default = (today - timedelta(days=29), today)
    try:
        since = date.fromisoformat(request.GET["since"]) if request.GET.get("since") else default[0]
        until = date.fromisoformat(request.GET["until"]) if request.GET.get("until") else default[1]
    except ValueError:
        return *default, "Dates must look like 2026-11-21."
    if since > until:
        return *default, "The start date is after the end date."
    if (until - since).days >= MAX_DAYS:
        return *default, f"Choose a range of at most {MAX_DAYS} days."
    return since, until, ""


def safe_cell(value) -> object:
    """Neutralise spreadsheet formulas (CSV injection): text starting with = + - @ gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(name: str, label: str, rows: list[dict]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="usage-{name}.csv"'
    writer = csv.writer(response)
    label_keys = [key for key in ("day", "label", "version", "project_team") if rows and key in rows[0]]
    writer.writerow([label, *label_keys[1:], *COLUMNS])
    for row in rows:
        writer.writerow([safe_cell(row.get(key)) for key in label_keys] + [row[c] for c in COLUMNS])
    return response


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    since, until, error = date_range(request)
    spent = selectors.spent_between(since, until)
    export = request.GET.get("export")
    if export:
        if export not in TABLES:
            raise Http404("No such table")
        label, table = TABLES[export]
        return csv_response(export, label, table(spent))
    days = selectors.per_day(spent)
    context = {
        "since": since,
        "until": until,
        "error": error,
        "totals": totals(spent),
        "days": days,
        "bars": charts.stacked_bars(days),
        "series": charts.SERIES,
        "users": charts.bar_list(selectors.by_user(spent)),
        "teams": charts.bar_list(selectors.by_team(spent)),
        "projects": charts.bar_list(selectors.by_project(spent)),
        "models": charts.bar_list(selectors.by_model(spent)),
        "prompts": selectors.by_prompt_version(spent),
        "expensive": selectors.most_expensive_conversations(spent),
        "query": request.GET.urlencode(),
    }
    return render(request, "usage/dashboard.html", context)


@login_required
def team_usage(request: HttpRequest, team_id: int) -> HttpResponse:
    """The team's owners only: 404 outside the team (as for every team page), 403 for its members
    who are not owners. Totals and per member; never transcripts."""
    membership = membership_for(request.user, team_id)
    if membership is None:
        raise Http404("No such team")
    if membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the team's owners see its usage.")
    since, until, error = date_range(request)
    spent = selectors.spent_between(since, until).of_team(team_id)
    context = {
        "team": membership.team,
        "since": since,
        "until": until,
        "error": error,
        "totals": totals(spent),
        "members": charts.bar_list(selectors.by_user(spent)),
    }
    return render(request, "usage/team.html", context)


@login_required
def prompt_usage(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """The prompt page's caching table, per version (a partial it loads); its editors only, else 404."""
    access = prompt_access(request.user, prompt_id)
    if access is None or not access[1]:
        raise Http404("No such prompt")
    stats = selectors.prompt_version_stats(access[0])
    return render(request, "usage/_prompt_versions.html", {"stats": stats})
