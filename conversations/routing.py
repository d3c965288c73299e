"""Websocket URLs (the Channels counterpart of urls.py)."""

from django.urls import path

from conversations import consumers, list_consumer

websocket_urlpatterns = [
    path(
        "ws/conversations/<int:conversation_id>/",
        consumers.ConversationConsumer.as_asgi(),
    ),
    path("ws/user/", list_consumer.ConversationListConsumer.as_asgi()),
]
