from django.urls import path

from . import views

urlpatterns = [
    path("usage/", views.dashboard, name="usage_dashboard"),
    path("teams/<id:team_id>/usage/", views.team_usage, name="team_usage"),
    path("prompts/<id:prompt_id>/usage/", views.prompt_usage, name="prompt_usage"),
]
