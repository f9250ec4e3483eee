from django.urls import include, path

from conversations import feedback_views, views, web_views
from conversations.library import export_views, share_views, sidebar_views

urlpatterns = [
    # Conversations
    path("", views.home, name="home"),
    path("new/", views.new_chat, name="new_chat"),
    path("new/start/", views.start_chat, name="start_chat"),
    path("c/<id:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<id:conversation_id>/send/", views.send_message, name="send_message"),
    path("c/<id:conversation_id>/rename/", sidebar_views.rename_conversation, name="rename_conversation"),
    path("c/<id:conversation_id>/delete/", views.delete_conversation, name="delete_conversation"),
    path("c/<id:conversation_id>/prompt/", views.switch_prompt, name="switch_prompt"),
    path("c/<id:conversation_id>/settings/", views.conversation_settings, name="conversation_settings"),
    path("c/<id:conversation_id>/gauge/", views.conversation_gauge, name="conversation_gauge"),
    path("c/<id:conversation_id>/handover/", views.handover, name="handover"),
    # The sidebar: search, the list's pages, and each item's menu
    path("search/", sidebar_views.conversation_search, name="conversation_search"),
    path("sidebar/", sidebar_views.sidebar_list, name="sidebar_list"),
    path("c/<id:conversation_id>/item/", sidebar_views.sidebar_item, name="sidebar_item"),
    path("c/<id:conversation_id>/title/", sidebar_views.sidebar_rename, name="sidebar_rename"),
    path("c/<id:conversation_id>/pin/", sidebar_views.conversation_pin, name="conversation_pin"),
    path("c/<id:conversation_id>/unpin/", sidebar_views.conversation_unpin, name="conversation_unpin"),
    path("c/<id:conversation_id>/archive/", sidebar_views.conversation_archive, name="conversation_archive"),
    path(
        "c/<id:conversation_id>/unarchive/",
        sidebar_views.conversation_unarchive,
        name="conversation_unarchive",
    ),
    path("c/<id:conversation_id>/restore/", sidebar_views.conversation_restore, name="conversation_restore"),
    # Export, import, and sharing with a team
    path("c/<id:conversation_id>/export.json", export_views.export_json, name="export_json"),
    path("c/<id:conversation_id>/export.md", export_views.export_markdown, name="export_markdown"),
    path("export/", export_views.export_all, name="export_all"),
    path("import/", export_views.import_conversation, name="import_conversation"),
    path("c/<id:conversation_id>/share/", share_views.share_conversation, name="share_conversation"),
    path("shared/", share_views.shared_with_me, name="shared_with_me"),
    path("shared/<id:share_id>/", share_views.shared_conversation, name="shared_conversation"),
    path("shared/<id:share_id>/continue/", share_views.share_continue, name="share_continue"),
    path("shared/<id:share_id>/revoke/", share_views.share_revoke, name="share_revoke"),
    # One message of a conversation
    path("m/<id:message_id>/retry/", views.retry_reply, name="retry_reply"),
    path("m/<id:message_id>/continue/", views.continue_reply, name="continue_reply"),
    path("m/<id:message_id>/regenerate/", views.regenerate_reply, name="regenerate_reply"),
    path("m/<id:message_id>/edit/", views.edit_message, name="edit_message"),
    path("m/<id:message_id>/edit/form/", views.edit_form, name="edit_form"),
    path("m/<id:message_id>/choose/", views.choose_version, name="choose_version"),
    path("m/<id:message_id>/rate/", feedback_views.rate_reply, name="rate_reply"),
    path("m/<id:message_id>/comment/", feedback_views.comment_reply, name="comment_reply"),
    # Projects: instructions and knowledge shared by a team's chats
    path("", include("conversations.projects.urls")),
    # Connectors (remote MCP servers) and skills: staff register, team owners choose, people use
    path("", include("conversations.connectors.urls")),
    path("", include("conversations.skills.urls")),
    # Accounts, files, operations
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics_page, name="metrics"),
    path("attachments/", views.upload_attachment, name="upload_attachment"),
    path("attachments/<id:attachment_id>/", views.attachment_file, name="attachment_file"),
    path("c/<id:conversation_id>/files/<slug:file_id>/", views.produced_file, name="produced_file"),
    # The feedback on a prompt's chats (its editors): on the prompt's page, but conversations keep it
    path("prompts/<id:prompt_id>/feedback/", feedback_views.prompt_feedback, name="prompt_feedback"),
    # A team's web access (its owners): beside the team pages, but conversations decide it
    path("teams/<id:team_id>/web/", web_views.team_web_access, name="team_web_access"),
]
