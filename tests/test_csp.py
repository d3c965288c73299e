"""Every page is served under a strict Content-Security-Policy, and obeys it.

The header is only half of it: a page with an inline script or a style attribute
would be broken under the policy, so the HTML of each page is checked too.
"""

from html.parser import HTMLParser

import pytest

from conversations.models import Message

pytestmark = pytest.mark.django_db

REQUIRED = {
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}


def directives(response) -> dict[str, set[str]]:
    header = response.headers["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = set(sources)
    return parsed


class InlineCode(HTMLParser):
    """Collect what a strict policy would refuse in a page's markup."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in attributes:
            if name.startswith("on"):
                self.refused.append(f"<{tag} {name}=...>")
        if "style" in attributes:
            self.refused.append(f"<{tag} style=...>")
        if tag == "style":
            self.refused.append("<style>")
        # Data from |json_script is JSON, not script: the browser never runs it.
        is_data = attributes.get("type") == "application/json"
        if tag == "script" and "src" not in attributes and not is_data:
            self.refused.append("inline <script>")
        for name in ("href", "src", "action"):
            if (attributes.get(name) or "").strip().lower().startswith("javascript:"):
                self.refused.append(f"<{tag} {name}=javascript:...>")


def refused_markup(response) -> list[str]:
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.refused


def assert_strict(response) -> None:
    policy = directives(response)
    for name, sources in REQUIRED.items():
        assert policy.get(name) == sources, f"{name}: {policy.get(name)}"
    # Nothing that would let a script in from anywhere else, or inline.
    for sources in policy.values():
        assert not sources & {
            "'unsafe-inline'",
            "'unsafe-eval'",
            "*",
            "http:",
            "https:",
        }


@pytest.fixture
def admin_client(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_setup_page_of_a_new_site(client):
    response = client.get("/setup/")

    assert response.status_code == 200
    assert_strict(response)
    assert refused_markup(response) == []


@pytest.mark.parametrize("path", ["/login/", "/signup/", "/admin/login/"])
def test_signed_out_pages(client, user, path):
    response = client.get(path)

    assert response.status_code in (200, 404)  # /signup/ is off by default
    assert_strict(response)
    if response.status_code == 200:
        assert refused_markup(response) == []


def test_chat_pages(admin_client, conversation):
    Message.objects.create(
        conversation=conversation, role="assistant", content="<script>x()</script>"
    )
    for path in ("/", f"/c/{conversation.pk}/"):
        response = admin_client.get(path)

        assert response.status_code == 200
        assert_strict(response)
        assert refused_markup(response) == []


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/conversations/conversation/",
        "/admin/conversations/message/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
    ],
)
def test_admin_pages(admin_client, conversation, path):
    response = admin_client.get(path)

    assert response.status_code == 200
    assert_strict(response)
    assert refused_markup(response) == []


def test_admin_change_page(admin_client, conversation):
    response = admin_client.get(
        f"/admin/conversations/conversation/{conversation.pk}/change/"
    )

    assert response.status_code == 200
    assert_strict(response)
    assert refused_markup(response) == []


def test_the_json_api_and_errors_carry_it_too(admin_client, conversation):
    api = admin_client.get(f"/api/conversations/{conversation.pk}/")
    missing = admin_client.get("/c/999999/")

    assert api.status_code == 200
    assert missing.status_code == 404
    assert_strict(api)
    assert_strict(missing)


def test_a_developers_debug_error_page_stays_readable(client, settings, user):
    settings.DEBUG = True
    client.force_login(user)

    page = client.get("/")
    debug_404 = client.get("/c/999999/")

    assert "Content-Security-Policy" in page.headers
    assert debug_404.status_code == 404
    assert "Content-Security-Policy" not in debug_404.headers
