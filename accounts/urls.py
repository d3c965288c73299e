from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import views

urlpatterns = [
    path("setup/", views.setup, name="setup"),
    path("login/", views.SiteLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path(
        "account/password/",
        views.SitePasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "account/password/done/",
        views.SitePasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
