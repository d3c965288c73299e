"""Admin for conversations and messages: look things up, filter what went wrong.

Messages are records of what was said and what MiniMax answered, so they are
read-only here; the one action is a thin call into the same repair the
recover_replies command makes.
"""

from django.contrib import admin
from django.db.models import Count
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from .models import Conversation, Message


class FlaggedFilter(admin.SimpleListFilter):
    title = _("sensitive content")
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", _("Flagged by MiniMax")), ("no", _("Not flagged"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.flagged()
        if self.value() == "no":
            return queryset.exclude(pk__in=Message.objects.flagged().values("pk"))
        return queryset


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "status", "excerpt", "error_kind", "flagged"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("content"))
    def excerpt(self, message: Message) -> str:
        return Truncator(message.content).chars(120)

    @admin.display(boolean=True, description=_("flagged"))
    def flagged(self, message: Message) -> bool:
        return message.flagged


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "owner",
        "model",
        "dialect",
        "message_count",
        "pinned",
        "archived",
        "updated_at",
    ]
    list_filter = ["model", "dialect", "pinned", "archived", "updated_at"]
    search_fields = ["title", "owner__username", "system_prompt"]
    autocomplete_fields = ["owner"]
    list_select_related = ["owner"]
    date_hierarchy = "updated_at"
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MessageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(description=_("messages"), ordering="message_total")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.message_total


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "excerpt",
        "role",
        "status",
        "conversation",
        "error_kind",
        "flagged",
        "total_tokens",
        "created_at",
    ]
    list_filter = [
        "status",
        "role",
        FlaggedFilter,
        "input_sensitive",
        "output_sensitive",
        "error_kind",
        "conversation__model",
    ]
    search_fields = ["content", "conversation__title", "conversation__owner__username"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation"]
    date_hierarchy = "created_at"
    actions = ["mark_interrupted"]

    def get_readonly_fields(self, request, obj=None):
        # A record of what was said: nothing is edited by hand.
        return [field.name for field in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("content"))
    def excerpt(self, message: Message) -> str:
        return Truncator(message.content).chars(80)

    @admin.display(boolean=True, description=_("flagged"))
    def flagged(self, message: Message) -> bool:
        return message.flagged

    @admin.action(description=_("Mark selected streaming replies as interrupted"))
    def mark_interrupted(self, request, queryset):
        count = queryset.streaming().mark_interrupted()
        self.message_user(
            request, _("%(count)d replies marked interrupted.") % {"count": count}
        )
