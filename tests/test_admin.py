"""The admin pages for conversations and messages render and filter."""

import pytest

from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="root-pass-1")
    client.force_login(admin)
    return client


def test_conversation_pages_render(staff_client, conversation):
    Message.objects.create(conversation=conversation, role="user", content="Hi there")

    changelist = staff_client.get("/admin/conversations/conversation/")
    change = staff_client.get(
        f"/admin/conversations/conversation/{conversation.pk}/change/"
    )

    assert changelist.status_code == 200
    assert change.status_code == 200
    assert "Hi there" in change.content.decode()


def test_message_list_filters_flagged_messages(staff_client, conversation):
    Message.objects.create(conversation=conversation, role="user", content="calm")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="risky",
        output_sensitive=True,
    )

    response = staff_client.get("/admin/conversations/message/", {"flagged": "yes"})

    assert response.status_code == 200
    assert "risky" in response.content.decode()
    assert "calm" not in response.content.decode()


def test_mark_interrupted_action_repairs_streaming_replies(staff_client, conversation):
    stuck = Message.objects.create(
        conversation=conversation, role="assistant", content="half", status="streaming"
    )

    staff_client.post(
        "/admin/conversations/message/",
        {"action": "mark_interrupted", "_selected_action": [stuck.pk]},
    )

    stuck.refresh_from_db()
    assert (stuck.status, stuck.content) == ("interrupted", "half")
    assert Conversation.objects.count() == 1


def test_a_message_is_read_only_and_names_its_sensitive_types(
    staff_client, conversation
):
    message = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="buy now",
        output_sensitive=True,
        output_sensitive_type=3,
    )

    page = staff_client.get(f"/admin/conversations/message/{message.pk}/change/")
    listing = staff_client.get("/admin/conversations/message/").content.decode()
    post = staff_client.post(
        f"/admin/conversations/message/{message.pk}/change/", {"content": "edited"}
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html
    assert "advertising" in html
    assert "output: advertising" in listing
    assert post.status_code == 403
    message.refresh_from_db()
    assert message.content == "buy now"


def test_messages_filter_by_sensitive_type(staff_client, conversation):
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="ad text",
        output_sensitive=True,
        output_sensitive_type=3,
    )
    Message.objects.create(
        conversation=conversation,
        role="user",
        content="rude text",
        input_sensitive=True,
        input_sensitive_type=5,
    )

    response = staff_client.get(
        "/admin/conversations/message/", {"sensitive_type": "5"}
    )

    assert "rude text" in response.content.decode()
    assert "ad text" not in response.content.decode()


def test_staff_without_the_review_permission_do_not_see_flagged_text(
    client, conversation, django_user_model
):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user(
        "sam", password="sam-pass-1", is_staff=True
    )
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_message", "view_conversation"])
    )
    client.force_login(staff)
    Message.objects.create(conversation=conversation, role="user", content="calm")
    flagged = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="forbidden words",
        output_sensitive=True,
        output_sensitive_type=5,
    )
    refused = Message.objects.create(
        conversation=conversation,
        role="user",
        content="refused words",
        error_code=1026,
    )

    pages = [
        client.get("/admin/conversations/message/"),
        client.get(f"/admin/conversations/message/{flagged.pk}/change/"),
        client.get(f"/admin/conversations/message/{refused.pk}/change/"),
        client.get(f"/admin/conversations/conversation/{conversation.pk}/change/"),
    ]

    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    for page in pages:
        html = page.content.decode()
        assert "forbidden words" not in html
        assert "refused words" not in html
    assert "calm" in pages[0].content.decode()
    assert "shown to reviewers only" in pages[1].content.decode()
