from django.contrib.auth.views import LogoutView
from django.urls import path

from conversations import api_history, views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/<int:conversation_id>/", views.chat, name="conversation"),
    path("setup/", views.setup, name="setup"),
    path("login/", views.SiteLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path(
        "api/conversations/",
        api_history.conversations_collection,
        name="api-conversations",
    ),
    path(
        "api/conversations/<int:conversation_id>/",
        api_history.conversation_detail,
        name="api-conversation",
    ),
    path(
        "api/conversations/<int:conversation_id>/export",
        api_history.export_one,
        name="api-conversation-export",
    ),
    path("api/search/", api_history.search_view, name="api-search"),
    path("api/export/", api_history.export_all, name="api-export"),
    path("api/import/", api_history.import_view, name="api-import"),
]
