"""The review queue: one item per flagged or refused message and direction.

A `ReviewItem` is made when a reply ends (receivers.py) and keeps its own copy of
what was flagged, so it survives the message: regenerating deletes the reply it
replaces. Its status is its latest `ReviewDecision`; decisions are append-only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from review.sensitivity import SensitiveType

EXCERPT_LENGTH = 60
# The one permission the queue, its actions and the flagged text need.
REVIEW_PERMISSION = "review.review_message"


class Direction(models.TextChoices):
    # input: the user's message (input_sensitive, or refused with 1026);
    # output: MiniMax's reply (output_sensitive, or refused with 1027).
    INPUT = "input", _("input")
    OUTPUT = "output", _("output")


class ReviewStatus(models.TextChoices):
    WAITING = "waiting", _("waiting")
    APPROVED = "approved", _("approved")
    HIDDEN = "hidden", _("hidden")
    ESCALATED = "escalated", _("escalated")


class AnalysisState(models.TextChoices):
    NONE = "", _("not run")
    PENDING = "pending", _("analysis pending")
    VALID = "valid", _("suggestion ready")
    INVALID = "invalid", _("reply did not match the schema")
    FAILED = "failed", _("analysis failed")


class ReviewItemQuerySet(models.QuerySet):
    def waiting(self) -> ReviewItemQuerySet:
        return self.filter(status=ReviewStatus.WAITING)

    def waiting_first(self) -> ReviewItemQuerySet:
        """Annotate `waiting_rank` (0 for waiting items) for "oldest waiting first"."""
        return self.annotate(
            waiting_rank=Case(
                When(status=ReviewStatus.WAITING, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )


class ReviewItem(models.Model):
    # Null once the message is gone (a regenerate deletes the reply it replaces);
    # everything a reviewer needs is copied below.
    message = models.ForeignKey(
        "conversations.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="review_items",
        verbose_name=_("message"),
    )
    # The message's conversation and its owner, copied when the item is made.
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="review_items",
        verbose_name=_("conversation"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="review_items",
        verbose_name=_("user"),
    )
    # The conversation's model when the reply was generated.
    model = models.CharField(_("model"), max_length=64)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction)
    # input_sensitive_type / output_sensitive_type; null when MiniMax refused
    # without saying which type.
    sensitive_type = models.PositiveSmallIntegerField(
        _("type"), choices=SensitiveType, null=True, blank=True
    )
    # base_resp.status_code of an outright refusal (1026 input, 1027 output); null
    # when the reply was delivered with a flag.
    refusal_code = models.PositiveIntegerField(_("refusal code"), null=True, blank=True)
    # The flagged text and reasoning as stored when the reply ended.
    text = models.TextField(_("text"), blank=True)
    reasoning = models.TextField(_("reasoning"), blank=True)
    # The message's flags and error fields as MiniMax reported them.
    flags = models.JSONField(_("raw flags"), default=dict)
    # When the flagged message was stored (its created_at).
    message_created_at = models.DateTimeField(_("date"), db_index=True)
    # The latest decision's action; kept here so the queue filters and sorts on it.
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ReviewStatus,
        default=ReviewStatus.WAITING,
    )
    # The AI pre-analysis (services.analyse): its state, the validated result (only
    # ever a reply that matched the schema), and otherwise what went wrong.
    ai_state = models.CharField(
        _("AI analysis"), max_length=16, choices=AnalysisState, blank=True
    )
    ai_suggestion = models.JSONField(_("AI suggestion"), null=True, blank=True)
    ai_valid = models.BooleanField(_("AI reply valid"), null=True, blank=True)
    ai_error = models.TextField(_("AI error"), blank=True)
    # The reply as received, shown beside an invalid result; never parsed from.
    ai_raw_reply = models.TextField(_("AI raw reply"), blank=True)
    ai_model = models.CharField(_("AI model"), max_length=64, blank=True)
    ai_finished_at = models.DateTimeField(_("AI analysis at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ReviewItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("review item")
        verbose_name_plural = _("review queue")
        ordering = ["message_created_at", "id"]
        permissions = [("review_message", _("Can review flagged messages"))]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "direction"],
                condition=Q(message__isnull=False),
                name="review_item_one_per_message_direction",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "message_created_at"], name="review_item_queue"
            ),
        ]

    def __str__(self) -> str:
        return Truncator(self.text).chars(40) or _("Review item %(id)s") % {
            "id": self.pk
        }

    def get_absolute_url(self) -> str:
        return reverse("admin:review_reviewitem_change", args=[self.pk])

    @property
    def refused(self) -> bool:
        return self.refusal_code is not None

    @property
    def excerpt(self) -> str:
        return Truncator(" ".join(self.text.split())).chars(EXCERPT_LENGTH)


class ReviewDecision(models.Model):
    """One reviewer's decision on an item: recorded once, never edited or deleted."""

    class Action(models.TextChoices):
        APPROVE = "approve", _("approve")
        HIDE = "hide", _("hide from the user")
        ESCALATE = "escalate", _("escalate")

    item = models.ForeignKey(
        ReviewItem,
        on_delete=models.PROTECT,
        related_name="decisions",
        verbose_name=_("review item"),
    )
    # The staff member who decided; null only if their account was deleted later.
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="review_decisions",
        verbose_name=_("reviewer"),
    )
    action = models.CharField(_("action"), max_length=16, choices=Action)
    # Typed beside the action in the admin; optional.
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("decided at"), auto_now_add=True)

    class Meta:
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.reviewer})"

    def save(self, *args, **kwargs) -> None:
        # Append-only: a decision is a record; a new one supersedes it instead.
        if self.pk is not None and not self._state.adding:
            raise ValueError("A review decision cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("A review decision cannot be deleted.")

    @property
    def status(self) -> str:
        """Return the item status this decision leads to."""
        return DECISION_STATUS[self.action]


DECISION_STATUS: dict[str, str] = {
    ReviewDecision.Action.APPROVE: ReviewStatus.APPROVED,
    ReviewDecision.Action.HIDE: ReviewStatus.HIDDEN,
    ReviewDecision.Action.ESCALATE: ReviewStatus.ESCALATED,
}
