from django.urls import path

from . import views

urlpatterns = [
    path("memory/", views.memory_page, name="memory"),
    path("memory/settings/", views.memory_settings, name="memory_settings"),
    path("memory/files/<id:file_id>/", views.memory_file, name="memory_file"),
    path("memory/files/<id:file_id>/delete/", views.memory_file_delete, name="memory_file_delete"),
    path("memory/clear/", views.memory_clear, name="memory_clear"),
]
