"""Account pages: first-run setup, sign-in, sign-up and changing one's password."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.views import (
    LoginView,
    PasswordChangeDoneView,
    PasswordChangeView,
)
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from accounts.forms import FirstUserForm, SignupForm

# Set up and sign-up sign the new account in with this backend (a site may list
# several in AUTHENTICATION_BACKENDS).
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def site_has_users() -> bool:
    return get_user_model().objects.exists()


def setup_first(view):
    """Send visitors of a site with no account yet to /setup/."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        # A signed-in visitor proves an account exists: no query for them.
        if not request.user.is_authenticated and not site_has_users():
            return redirect("setup")
        return view(request, *args, **kwargs)

    return wrapper


@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Create the first account (staff and superuser) and sign it in."""
    if site_has_users():
        raise Http404
    form = FirstUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Two people racing through setup: only the first one wins.
            if site_has_users():
                raise Http404
            user = form.save()
        login(request, user, backend=LOGIN_BACKEND)
        return redirect("chat")
    return render(request, "accounts/setup.html", {"form": form})


class SiteLoginView(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        if not site_has_users():
            return redirect("setup")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(open_signup=settings.OPEN_SIGNUP, **kwargs)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Let anyone create an account, only when the site is configured to."""
    if not settings.OPEN_SIGNUP:
        raise Http404
    if not site_has_users():
        return redirect("setup")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend=LOGIN_BACKEND)
        return redirect("chat")
    return render(request, "accounts/signup.html", {"form": form})


class SitePasswordChangeView(PasswordChangeView):
    """The signed-in user changes their own password (the old one is asked for).

    Django's view requires sign-in and keeps this session signed in afterwards;
    the user's other sessions are signed out (their session hash no longer
    matches).
    """

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("password_change_done")


class SitePasswordChangeDoneView(PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"
