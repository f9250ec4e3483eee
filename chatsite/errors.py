"""The 400, 403, 404 and 500 pages: an app page (templates/error.html) that says what happened and
offers a way back. The 500 page is rendered without the request's context, as Django's own is:
no database, no signed-in user, since whatever failed may fail again."""

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from chatsite.logs import request_id

TEMPLATE = "error.html"
PAGES = {
    400: ("Bad request", "The browser sent a request this page could not read."),
    403: ("No access", "You do not have access to this page."),
    404: ("Page not found", "Nothing is here: it may have been deleted, or the link is wrong."),
    500: ("Something went wrong", "The server could not show this page. Try again in a moment."),
}


def _context(status: int, **extra) -> dict:
    heading, explanation = PAGES[status]
    return {"status": status, "heading": heading, "explanation": explanation, **extra}


@requires_csrf_token  # the sidebar's forms need the token on a page no view rendered
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, TEMPLATE, _context(400), status=400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The reason, when the code raising it gave one ("Only owners manage members.")."""
    return render(request, TEMPLATE, _context(403, reason=str(exception)), status=403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, TEMPLATE, _context(404), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The request id is in the log line of the failure: a person can quote it."""
    html = loader.get_template(TEMPLATE).render(_context(500, reference=request_id.get()))
    return HttpResponseServerError(html)
