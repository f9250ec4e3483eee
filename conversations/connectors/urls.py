"""Routes of connectors: the team's and each person's pages (views), and the answer to a tool that
asks before it runs (approval_views)."""

from django.urls import path

from conversations.connectors import approval_views, views

urlpatterns = [
    path("teams/<id:team_id>/connectors/", views.team_connectors, name="team_connectors"),
    path("connectors/", views.my_connectors, name="my_connectors"),
    path("connectors/<id:connector_id>/token/", views.connector_token_set, name="connector_token_set"),
    path(
        "connectors/<id:connector_id>/token/remove/",
        views.connector_token_remove,
        name="connector_token_remove",
    ),
    path(
        "m/<id:message_id>/approvals/<slug:call_id>/", approval_views.answer_approval, name="answer_approval"
    ),
]
