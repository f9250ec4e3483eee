"""Routes of connectors (see its views)."""

from django.urls import path

from conversations.connectors import views

urlpatterns = [
    path("teams/<id:team_id>/connectors/", views.team_connectors, name="team_connectors"),
    path("connectors/", views.my_connectors, name="my_connectors"),
    path("connectors/<id:connector_id>/token/", views.connector_token_set, name="connector_token_set"),
    path(
        "connectors/<id:connector_id>/token/remove/",
        views.connector_token_remove,
        name="connector_token_remove",
    ),
]
