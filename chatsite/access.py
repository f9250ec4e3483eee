"""Who may open the staff pages. Anonymous visitors are sent to the login page; signed-in users
without the staff role get 403 (a redirect to a login page would suggest another account helps)."""

from collections.abc import Callable
from functools import wraps

from asgiref.sync import iscoroutinefunction
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    if iscoroutinefunction(view):

        @wraps(view)
        async def staff_only_async(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not (await request.auser()).is_staff:
                raise PermissionDenied("It is for staff.")
            return await view(request, *args, **kwargs)

        return login_required(staff_only_async)

    @wraps(view)
    def staff_only(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("It is for staff.")
        return view(request, *args, **kwargs)

    return login_required(staff_only)
