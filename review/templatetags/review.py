"""{% review_queue as queue %}: the waiting count the admin index shows reviewers."""

from __future__ import annotations

from django import template
from django.urls import reverse

from review.models import REVIEW_PERMISSION, ReviewItem, ReviewStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def review_queue(context) -> dict | None:
    """Return the queue's link and waiting count, or None for a non-reviewer."""
    request = context.get("request")
    if request is None or not request.user.has_perm(REVIEW_PERMISSION):
        return None
    changelist = reverse("admin:review_reviewitem_changelist")
    return {
        "waiting": ReviewItem.objects.waiting().count(),
        "url": f"{changelist}?status__exact={ReviewStatus.WAITING}",
        "overview_url": reverse("admin:review_reviewitem_overview"),
    }
