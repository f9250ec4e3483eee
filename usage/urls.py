from django.urls import path

from . import views

urlpatterns = [
    path("usage/", views.dashboard, name="usage_dashboard"),
    path("teams/<int:team_id>/usage/", views.team_usage, name="team_usage"),
]
