"""The forms that create accounts: the first one (an administrator), then others."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class FirstUserForm(UserCreationForm):
    """The account created on an empty site: it administers everything."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)

    def save(self, commit: bool = True):
        user = super().save(commit=False)
        user.is_staff = True
        user.is_superuser = True
        if commit:
            user.save()
        return user


class SignupForm(UserCreationForm):
    """An ordinary account, when the site lets anyone sign up (OPEN_SIGNUP)."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)
