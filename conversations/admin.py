"""Admin for conversations and messages: look things up, filter what went wrong.

Messages are records of what was said and what MiniMax answered, so they are
read-only here (no Save); the one action is a thin call into the same repair the
recover_replies command makes. The text of a message MiniMax flagged or refused is
shown only to staff with the review permission (the review app's queue).
"""

from django.contrib import admin
from django.db.models import Count, Q
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from review.models import REVIEW_PERMISSION
from review.sensitivity import REFUSAL_CODES, SensitiveType, type_name

from .models import Conversation, Message

WITHHELD = _("(flagged: shown to reviewers only)")


def may_read_flagged(request) -> bool:
    return request.user.has_perm(REVIEW_PERMISSION)


def needs_review(message: Message) -> bool:
    return message.flagged or message.error_code in REFUSAL_CODES


def withheld(text: str, message: Message, limit: int | None = None) -> str:
    """Return the text, or WITHHELD if it is flagged (for non-reviewers)."""
    if needs_review(message):
        return WITHHELD
    return Truncator(text).chars(limit) if limit else text


class SensitiveTypeFilter(admin.SimpleListFilter):
    """Messages by sensitive type, on either side, by the vendor's names."""

    title = _("sensitive type")
    parameter_name = "sensitive_type"

    def lookups(self, request, model_admin):
        return SensitiveType.choices

    def queryset(self, request, queryset):
        if self.value():
            value = int(self.value()) if self.value().isdigit() else -1
            return queryset.filter(
                Q(input_sensitive_type=value) | Q(output_sensitive_type=value)
            )
        return queryset


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
    readonly_fields = [*fields, "withheld_excerpt"]
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        if may_read_flagged(request):
            return self.fields
        return [f if f != "excerpt" else "withheld_excerpt" for f in self.fields]

    @admin.display(description=_("content"))
    def excerpt(self, message: Message) -> str:
        return Truncator(message.content).chars(120)

    @admin.display(description=_("content"))
    def withheld_excerpt(self, message: Message) -> str:
        return withheld(message.content, message, 120)

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


# Shown in place of the stored fields: types by name, flagged text withheld.
DISPLAY_FIELDS = {
    "input_sensitive_type": "input_type_name",
    "output_sensitive_type": "output_type_name",
}
WITHHELD_FIELDS = {"content": "withheld_content", "reasoning": "withheld_reasoning"}


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
        "sensitive_types",
        "hidden",
        "total_tokens",
        "created_at",
    ]
    list_filter = [
        "status",
        "role",
        FlaggedFilter,
        SensitiveTypeFilter,
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

    def get_fields(self, request, obj=None):
        names = {**DISPLAY_FIELDS}
        if not may_read_flagged(request):
            names.update(WITHHELD_FIELDS)
        return [names.get(field.name, field.name) for field in Message._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        # A record of what was said: nothing is edited by hand.
        return self.get_fields(request, obj)

    def get_list_display(self, request):
        if may_read_flagged(request):
            return self.list_display
        return [
            "withheld_excerpt" if name == "excerpt" else name
            for name in self.list_display
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Read-only: the page offers Close, not Save.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("content"))
    def excerpt(self, message: Message) -> str:
        return Truncator(message.content).chars(80)

    @admin.display(description=_("content"))
    def withheld_excerpt(self, message: Message) -> str:
        return withheld(message.content, message, 80)

    @admin.display(description=_("content"))
    def withheld_content(self, message: Message) -> str:
        return withheld(message.content, message)

    @admin.display(description=_("reasoning"))
    def withheld_reasoning(self, message: Message) -> str:
        return withheld(message.reasoning, message)

    @admin.display(boolean=True, description=_("flagged"))
    def flagged(self, message: Message) -> bool:
        return message.flagged

    @admin.display(boolean=True, description=_("hidden"))
    def hidden(self, message: Message) -> bool:
        return message.hidden

    @admin.display(description=_("sensitive type"))
    def sensitive_types(self, message: Message) -> str:
        names = [
            f"{_('input')}: {type_name(message.input_sensitive_type)}"
            if message.input_sensitive
            else "",
            f"{_('output')}: {type_name(message.output_sensitive_type)}"
            if message.output_sensitive
            else "",
        ]
        return "; ".join(name for name in names if name) or "—"

    @admin.display(description=_("input sensitive type"))
    def input_type_name(self, message: Message) -> str:
        return type_name(message.input_sensitive_type) or "—"

    @admin.display(description=_("output sensitive type"))
    def output_type_name(self, message: Message) -> str:
        return type_name(message.output_sensitive_type) or "—"

    @admin.action(description=_("Mark selected streaming replies as interrupted"))
    def mark_interrupted(self, request, queryset):
        count = queryset.streaming().mark_interrupted()
        self.message_user(
            request, _("%(count)d replies marked interrupted.") % {"count": count}
        )
