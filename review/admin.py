"""The review queue in the admin: filter, read in context, decide, analyse.

Everything here needs the review permission (the "Reviewers" group has it); other
staff get 403. Items and decisions are records: nothing is added, changed or
deleted by hand, only decided through the actions (each a thin call into
services), with the note typed beside the action.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from conversations.tree import MessageTree
from review import analysis, overview, services
from review.models import (
    REVIEW_PERMISSION,
    AnalysisState,
    ReviewDecision,
    ReviewItem,
)

NOTE_MAX_LENGTH = 2000
# Turns shown on each side of the flagged message on its page.
CONTEXT_TURNS = 3
# Posted by the decision form on an item's page: come back to the item after.
RETURN_TO_ITEM = "_return_to_item"

# The queue's row count on the admin index.
admin.site.index_template = "admin/review/index.html"


def can_review(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and user.has_perm(REVIEW_PERMISSION)


class ReviewActionForm(ActionForm):
    note = forms.CharField(label=_("Note"), required=False, max_length=NOTE_MAX_LENGTH)


class RefusedFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "refused"

    def lookups(self, request, model_admin):
        return [("yes", _("refused")), ("no", _("delivered"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(refusal_code__isnull=self.value() == "no")
        return queryset


class ReviewerOnly:
    """Admin permissions for records only reviewers read and nobody edits."""

    def has_module_permission(self, request):
        return can_review(request)

    def has_view_permission(self, request, obj=None):
        return can_review(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DecisionInline(ReviewerOnly, admin.TabularInline):
    model = ReviewDecision
    fields = ["created_at", "action", "reviewer", "note"]
    readonly_fields = fields
    extra = 0
    ordering = ["-created_at", "-id"]
    verbose_name_plural = _("decision history")


@admin.register(ReviewItem)
class ReviewItemAdmin(ReviewerOnly, admin.ModelAdmin):
    list_display = [
        "excerpt",
        "type_name",
        "direction_and_outcome",
        "model",
        "user",
        "date",
        "status",
        "suggestion",
    ]
    list_filter = [
        "sensitive_type",
        "direction",
        "status",
        RefusedFilter,
        "model",
        ("user", admin.RelatedOnlyFieldListFilter),
        "message_created_at",
        "ai_state",
    ]
    search_fields = ["text", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "message_created_at"
    action_form = ReviewActionForm
    actions = ["approve", "hide", "escalate", "analyse"]
    fields = [
        "type_name",
        "direction",
        "outcome",
        "model",
        "user",
        "conversation",
        "message_created_at",
        "status",
    ]
    readonly_fields = fields
    inlines = [DecisionInline]
    list_per_page = 50
    # get_absolute_url is this admin page: there is no page "on site" to view.
    view_on_site = False

    def get_queryset(self, request):
        # Annotated before the ordering below refers to it (the base class orders
        # first, then we could not).
        queryset = ReviewItem.objects.waiting_first()
        return queryset.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        # Oldest waiting first, then everything already decided.
        return ["waiting_rank", "message_created_at", "id"]

    def has_review_permission(self, request):
        return can_review(request)

    # --- columns ------------------------------------------------------------

    @admin.display(description=_("text"))
    def excerpt(self, item: ReviewItem) -> str:
        return item.excerpt or "—"

    @admin.display(description=_("date"), ordering="message_created_at")
    def date(self, item: ReviewItem) -> str:
        # Short, so the nine columns fit beside the filters.
        return date_format(
            timezone.localtime(item.message_created_at), "SHORT_DATETIME_FORMAT"
        )

    @admin.display(description=_("type"), ordering="sensitive_type")
    def type_name(self, item: ReviewItem) -> str:
        return item.get_sensitive_type_display() or _("not given")

    @admin.display(description=_("direction"), ordering="direction")
    def direction_and_outcome(self, item: ReviewItem) -> str:
        # One column for both, so the row fits beside the filters.
        return f"{item.get_direction_display()}, {self.outcome(item)}"

    @admin.display(description=_("outcome"), ordering="refusal_code")
    def outcome(self, item: ReviewItem) -> str:
        if item.refused:
            return _("refused (%(code)s)") % {"code": item.refusal_code}
        return _("delivered")

    @admin.display(description=_("AI suggestion"), ordering="ai_state")
    def suggestion(self, item: ReviewItem) -> str:
        if item.ai_state == AnalysisState.VALID and item.ai_suggestion:
            result = item.ai_suggestion
            return f"{result['content_result']} · {result['content_risk_level']}"
        return item.get_ai_state_display() if item.ai_state else "—"

    # --- actions ------------------------------------------------------------

    @admin.action(description=_("Approve"), permissions=["review"])
    def approve(self, request, queryset):
        return self._decide(request, queryset, ReviewDecision.Action.APPROVE)

    @admin.action(description=_("Hide from the user"), permissions=["review"])
    def hide(self, request, queryset):
        return self._decide(request, queryset, ReviewDecision.Action.HIDE)

    @admin.action(description=_("Escalate"), permissions=["review"])
    def escalate(self, request, queryset):
        return self._decide(request, queryset, ReviewDecision.Action.ESCALATE)

    @admin.action(description=_("Run the AI pre-analysis"), permissions=["review"])
    def analyse(self, request, queryset):
        items = list(queryset)
        analysis.start_analysis(items)
        self.message_user(
            request,
            ngettext(
                "Analysis started for %(count)d item; reload to see its result.",
                "Analysis started for %(count)d items; reload to see their results.",
                len(items),
            )
            % {"count": len(items)},
        )
        return self._back_to_item(request, items)

    def _decide(self, request, queryset, action: str):
        note = request.POST.get("note", "").strip()[:NOTE_MAX_LENGTH]
        items = list(queryset)
        decisions = services.do_decide(items, request.user, action, note)
        self.message_user(
            request,
            ngettext(
                "%(action)s: %(count)d item.",
                "%(action)s: %(count)d items.",
                len(decisions),
            )
            % {
                "action": ReviewDecision.Action(action).label,
                "count": len(decisions),
            },
        )
        return self._back_to_item(request, items)

    def _back_to_item(self, request, items: list[ReviewItem]):
        if RETURN_TO_ITEM in request.POST and len(items) == 1:
            return HttpResponseRedirect(items[0].get_absolute_url())
        return None

    # --- the item's page and the overview -------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        item = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if item is not None and can_review(request):
            extra_context.update(
                turns=self._turns_around(item),
                raw_flags=json.dumps(item.flags, indent=2, ensure_ascii=False),
                decision_actions=ReviewDecision.Action.choices,
                return_to_item=RETURN_TO_ITEM,
                note_max_length=NOTE_MAX_LENGTH,
                changelist_url=reverse("admin:review_reviewitem_changelist"),
                suggestion=item.ai_suggestion
                if item.ai_state == AnalysisState.VALID
                else None,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _turns_around(self, item: ReviewItem) -> list[dict]:
        """Return the turns before and after the flagged message, oldest first.

        Along the message's own branch (an edit or a regenerate forks the
        conversation): the turns it answered and the ones that followed it, not
        whatever other branch happened to be written around the same time.
        """
        if item.conversation_id is None:
            return [{"flagged": True, "role": item.direction, "content": item.text}]
        if item.message is None:  # gone (regenerated): by time, with the copy kept here
            return self._turns_by_time(item)
        tree = MessageTree(
            list(item.conversation.messages.all()), item.conversation.active_leaf_id
        )
        path = tree.branch(tree.newest_leaf_under(item.message_id).pk)
        at = next(n for n, message in enumerate(path) if message.pk == item.message_id)
        before = path[max(0, at - CONTEXT_TURNS) : at]
        after = path[at + 1 : at + 1 + CONTEXT_TURNS]
        return [
            *(_turn(message) for message in before),
            {**_turn(path[at]), "flagged": True},
            *(_turn(message) for message in after),
        ]

    def _turns_by_time(self, item: ReviewItem) -> list[dict]:
        messages = item.conversation.messages.all()
        before = messages.filter(created_at__lt=item.message_created_at).order_by(
            "-created_at", "-id"
        )[:CONTEXT_TURNS]
        after = messages.filter(created_at__gt=item.message_created_at).order_by(
            "created_at", "id"
        )[:CONTEXT_TURNS]
        return [
            *(_turn(message) for message in reversed(before)),
            {"flagged": True, "gone": True, "role": "", "content": item.text},
            *(_turn(message) for message in after),
        ]

    def get_urls(self):
        overview_url = path(
            "overview/",
            self.admin_site.admin_view(self.overview_view),
            name="review_reviewitem_overview",
        )
        return [overview_url, *super().get_urls()]

    def overview_view(self, request):
        if not can_review(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Flagged and refused messages, last %(days)d days")
            % {"days": overview.DAYS},
            "opts": self.opts,
            "overview": overview.build_overview(),
        }
        return TemplateResponse(request, "admin/review/overview.html", context)


def _turn(message) -> dict:
    return {
        "role": message.get_role_display(),
        "content": message.content,
        "hidden": message.hidden,
        "flagged": False,
        "created_at": message.created_at,
    }


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReviewerOnly, admin.ModelAdmin):
    """Every decision ever made, read-only: the audit trail."""

    list_display = ["created_at", "item", "action", "reviewer", "note"]
    list_filter = ["action", "created_at"]
    search_fields = ["note", "reviewer__username"]
    list_select_related = ["item", "reviewer"]
    date_hierarchy = "created_at"
    fields = ["item", "action", "reviewer", "note", "created_at"]
    readonly_fields = fields
