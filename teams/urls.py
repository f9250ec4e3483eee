from django.urls import path

from . import views

urlpatterns = [
    # Teams and their members
    path("teams/", views.team_list, name="team_list"),
    path("teams/<id:team_id>/", views.team_detail, name="team_detail"),
    path("teams/<id:team_id>/members/", views.member_add, name="member_add"),
    path("teams/<id:team_id>/members/<id:membership_id>/", views.member_update, name="member_update"),
    # System prompts, personal or a team's
    path("prompts/", views.prompt_list, name="prompt_list"),
    path("prompts/new/", views.prompt_new, name="prompt_new"),
    path("prompts/<id:prompt_id>/", views.prompt_detail, name="prompt_detail"),
    path("prompts/<id:prompt_id>/edit/", views.prompt_edit, name="prompt_edit"),
]
