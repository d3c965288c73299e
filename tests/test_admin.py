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
