from django.urls import path

from chatsite.throttle import limit_signups

from . import account_views, sso_views, views

urlpatterns = [
    path("accounts/signup/", limit_signups(views.signup_view), name="signup"),
    path("accounts/oidc/start/", sso_views.Start.as_view(), name="oidc_authentication_init"),
    path("accounts/oidc/callback/", sso_views.Callback.as_view(), name="oidc_authentication_callback"),
    path("accounts/invite/", views.invite, name="invite"),
    path("accounts/invite/<str:token>/", limit_signups(views.invitation), name="invitation"),
    path("accounts/me/", account_views.account, name="account"),
    path("accounts/me/delete/", account_views.account_delete_view, name="account_delete"),
]
