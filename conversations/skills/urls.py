"""Routes of skills (see its views)."""

from django.urls import path

from conversations.skills import views

urlpatterns = [
    path("teams/<id:team_id>/skills/", views.team_skills, name="team_skills"),
    path("teams/<id:team_id>/skills/<id:skill_pk>/", views.team_skill, name="team_skill"),
    path(
        "teams/<id:team_id>/skills/<id:skill_pk>/delete/", views.team_skill_delete, name="team_skill_delete"
    ),
]
