from django.urls import path

from . import views

urlpatterns = [
    path("workbench/messages/<id:message_id>/", views.message_add, name="workbench_message_add"),
    path("prompts/<id:prompt_id>/workbench/", views.workbench, name="workbench"),
    path("prompts/<id:prompt_id>/workbench/cases/", views.case_add, name="workbench_case_add"),
    path("prompts/<id:prompt_id>/workbench/cases/<id:case_id>/", views.case_edit, name="workbench_case_edit"),
    path(
        "prompts/<id:prompt_id>/workbench/cases/<id:case_id>/files/<id:file_id>/",
        views.case_file,
        name="workbench_case_file",
    ),
    path("prompts/<id:prompt_id>/workbench/import/", views.cases_import, name="workbench_import"),
    path(
        "prompts/<id:prompt_id>/workbench/suggestions/<id:feedback_id>/",
        views.suggestion_take,
        name="workbench_suggestion_take",
    ),
    path("prompts/<id:prompt_id>/workbench/runs/", views.run_start, name="workbench_run_start"),
    path("prompts/<id:prompt_id>/workbench/runs/<id:run_id>/", views.run_detail, name="workbench_run"),
    path(
        "prompts/<id:prompt_id>/workbench/runs/<id:run_id>/cancel/",
        views.run_cancel,
        name="workbench_run_cancel",
    ),
    path(
        "prompts/<id:prompt_id>/workbench/runs/<id:run_id>/blind/",
        views.run_blind,
        name="workbench_run_blind",
    ),
    path("prompts/<id:prompt_id>/workbench/runs/<id:run_id>/csv/", views.run_csv, name="workbench_run_csv"),
]
