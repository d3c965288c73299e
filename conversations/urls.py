from django.urls import path

from conversations.views import history_api, pages

urlpatterns = [
    path("", pages.chat, name="chat"),
    path("c/<int:conversation_id>/", pages.chat, name="conversation"),
    path(
        "api/conversations/",
        history_api.conversations_collection,
        name="api-conversations",
    ),
    path(
        "api/conversations/<int:conversation_id>/",
        history_api.conversation_detail,
        name="api-conversation",
    ),
    path(
        "api/conversations/<int:conversation_id>/export",
        history_api.export_one,
        name="api-conversation-export",
    ),
    path("api/search/", history_api.search_view, name="api-search"),
    path("api/export/", history_api.export_all, name="api-export"),
    path("api/import/", history_api.import_view, name="api-import"),
]
