from django.contrib.auth.views import LogoutView
from django.urls import path

from conversations import views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/<int:conversation_id>/", views.chat, name="conversation"),
    path("setup/", views.setup, name="setup"),
    path("login/", views.SiteLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("api/conversations/", views.api_conversations, name="api-conversations"),
    path(
        "api/conversations/<int:conversation_id>/",
        views.api_conversation,
        name="api-conversation",
    ),
]
