from django.urls import path

from conversations.projects import views

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_new, name="project_new"),
    path("projects/<id:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<id:project_id>/delete/", views.project_delete, name="project_delete"),
    path("projects/<id:project_id>/instructions/", views.project_instructions, name="project_instructions"),
    path("projects/<id:project_id>/files/", views.project_files_add, name="project_files_add"),
    path("projects/<id:project_id>/files/<id:file_id>/", views.project_file, name="project_file"),
    path(
        "projects/<id:project_id>/files/<id:file_id>/delete/",
        views.project_file_delete,
        name="project_file_delete",
    ),
]
