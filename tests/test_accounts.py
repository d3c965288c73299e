"""Accounts: the first visit sets up an administrator; then sign-in is required."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_empty_site_sends_every_page_to_setup(client):
    for url in ("/", "/c/1/", "/login/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == "/setup/"


def test_setup_creates_a_staff_superuser_and_signs_it_in(client):
    response = client.post(
        "/setup/",
        {
            "username": "root",
            "password1": "a-long-pass-9z",
            "password2": "a-long-pass-9z",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    admin = get_user_model().objects.get()
    assert admin.username == "root"
    assert admin.is_staff and admin.is_superuser
    # Signed in: the chat page opens instead of redirecting.
    assert client.get("/").status_code == 200


def test_setup_rejects_mismatched_passwords(client):
    response = client.post(
        "/setup/",
        {
            "username": "root",
            "password1": "a-long-pass-9z",
            "password2": "other-9z-pass",
        },
    )
    assert response.status_code == 200
    assert not get_user_model().objects.exists()


def test_setup_is_gone_once_a_user_exists(client, user):
    assert client.get("/setup/").status_code == 404
    response = client.post(
        "/setup/",
        {
            "username": "intruder",
            "password1": "a-long-pass-9z",
            "password2": "a-long-pass-9z",
        },
    )
    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="intruder").exists()


def test_pages_require_sign_in(client, user, conversation):
    for url in ("/", f"/c/{conversation.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_api_requires_sign_in(client, user, conversation):
    assert client.post("/api/conversations/", {}, "application/json").status_code == 401
    response = client.patch(
        f"/api/conversations/{conversation.pk}/", {"top_p": 0.5}, "application/json"
    )
    assert response.status_code == 401


def test_login_then_logout(client, user):
    response = client.post("/login/", {"username": "ada", "password": "ada-password-1"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    # Logout is a POST (a link could be followed by a prefetcher).
    assert client.get("/logout/").status_code == 405
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_signup_is_404_unless_open(client, user, settings):
    settings.OPEN_SIGNUP = False
    assert client.get("/signup/").status_code == 404


def test_open_signup_creates_a_plain_user(client, user, settings):
    settings.OPEN_SIGNUP = True
    assert client.get("/signup/").status_code == 200
    response = client.post(
        "/signup/",
        {
            "username": "carol",
            "password1": "a-long-pass-9z",
            "password2": "a-long-pass-9z",
        },
    )
    assert response.status_code == 302
    carol = get_user_model().objects.get(username="carol")
    assert not carol.is_staff and not carol.is_superuser
    assert client.get("/").status_code == 200


def test_password_change_needs_sign_in(client, user):
    response = client.get("/account/password/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/password/"


def test_a_user_changes_their_own_password_and_stays_signed_in(client, user):
    client.force_login(user)
    page = client.get("/account/password/")
    assert page.status_code == 200
    assert 'name="old_password"' in page.content.decode()

    response = client.post(
        "/account/password/",
        {
            "old_password": "ada-password-1",
            "new_password1": "a-new-long-pass-7q",
            "new_password2": "a-new-long-pass-7q",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/password/done/"
    user.refresh_from_db()
    assert user.check_password("a-new-long-pass-7q")
    assert client.get("/").status_code == 200
    assert client.get("/account/password/done/").status_code == 200


def test_password_change_signs_out_other_sessions(client, user):
    other_device = Client()
    other_device.force_login(user)
    client.force_login(user)

    client.post(
        "/account/password/",
        {
            "old_password": "ada-password-1",
            "new_password1": "a-new-long-pass-7q",
            "new_password2": "a-new-long-pass-7q",
        },
    )

    assert other_device.get("/").status_code == 302


def test_password_change_wants_the_old_password(client, user):
    client.force_login(user)

    response = client.post(
        "/account/password/",
        {
            "old_password": "not-my-password",
            "new_password1": "a-new-long-pass-7q",
            "new_password2": "a-new-long-pass-7q",
        },
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password("ada-password-1")
