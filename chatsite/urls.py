from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

urlpatterns = [
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"))),  # browsers ask for it
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("accounts.urls")),
    path("", include("conversations.urls")),
    path("", include("teams.urls")),
    path("", include("review.urls")),
    path("", include("usage.urls")),
    path("", include("memory.urls")),
    path("", include("workbench.urls")),
]

# App pages for errors (chatsite/errors.py); Django shows its own while DEBUG is on.
handler400 = "chatsite.errors.bad_request"
handler403 = "chatsite.errors.permission_denied"
handler404 = "chatsite.errors.page_not_found"
handler500 = "chatsite.errors.server_error"
