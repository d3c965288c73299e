from django.urls import path

from conversations.views import api, pages

urlpatterns = [
    path("", pages.chat, name="chat"),
    path("c/<int:conversation_id>/", pages.chat, name="conversation"),
    path("api/conversations/", api.api_conversations, name="api-conversations"),
    path(
        "api/conversations/<int:conversation_id>/",
        api.api_conversation,
        name="api-conversation",
    ),
]
