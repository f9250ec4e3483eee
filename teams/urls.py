from django.urls import path

from . import views

urlpatterns = [
    path("teams/", views.team_list, name="team_list"),
    path("teams/<int:team_id>/", views.team_detail, name="team_detail"),
    path("teams/<int:team_id>/members/", views.member_add, name="member_add"),
    path("teams/<int:team_id>/members/<int:membership_id>/", views.member_update, name="member_update"),
    path("prompts/", views.prompt_list, name="prompt_list"),
    path("prompts/new/", views.prompt_new, name="prompt_new"),
    path("prompts/<int:prompt_id>/", views.prompt_detail, name="prompt_detail"),
    path("prompts/<int:prompt_id>/edit/", views.prompt_edit, name="prompt_edit"),
]
