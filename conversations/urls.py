from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.new_chat, name="new_chat"),
    path("new/start/", views.start_chat, name="start_chat"),
    path("c/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<int:conversation_id>/send/", views.send_message, name="send_message"),
    path("c/<int:conversation_id>/rename/", views.rename_conversation, name="rename_conversation"),
    path("c/<int:conversation_id>/delete/", views.delete_conversation, name="delete_conversation"),
    path("c/<int:conversation_id>/prompt/", views.switch_prompt, name="switch_prompt"),
    path("c/<int:conversation_id>/settings/", views.conversation_settings, name="conversation_settings"),
    path("m/<int:message_id>/retry/", views.retry_reply, name="retry_reply"),
    path("m/<int:message_id>/continue/", views.continue_reply, name="continue_reply"),
    path("m/<int:message_id>/regenerate/", views.regenerate_reply, name="regenerate_reply"),
    path("m/<int:message_id>/edit/", views.edit_message, name="edit_message"),
    path("accounts/signup/", views.signup, name="signup"),
    path("healthz", views.healthz, name="healthz"),
    path("attachments/", views.upload_attachment, name="upload_attachment"),
    path("attachments/<int:attachment_id>/", views.attachment_file, name="attachment_file"),
]
