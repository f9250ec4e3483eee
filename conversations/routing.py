from django.urls import path

from conversations.live.consumers import ConversationConsumer

websocket_urlpatterns = [
    path("ws/c/<id:conversation_id>/", ConversationConsumer.as_asgi()),
    path("ws/new/", ConversationConsumer.as_asgi()),
]
