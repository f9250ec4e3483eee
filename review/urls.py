from django.urls import path

from . import views

urlpatterns = [
    path("review/", views.conversation_list, name="review_list"),
    path("review/<id:conversation_id>/", views.open_prompt, name="review_open"),
    path("review/<id:conversation_id>/transcript/", views.transcript, name="review_transcript"),
    path(
        "review/<id:conversation_id>/attachments/<id:attachment_id>/",
        views.transcript_attachment,
        name="review_attachment",
    ),
    path(
        "review/<id:conversation_id>/files/<slug:file_id>/",
        views.transcript_produced_file,
        name="review_produced_file",
    ),
    path("account/reviews/", views.my_reviews, name="my_reviews"),
]
