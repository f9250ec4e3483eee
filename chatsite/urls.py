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
]
