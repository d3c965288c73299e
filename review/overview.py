"""The review overview: flagged and refused messages per day by type, and totals.

Each figure is one aggregate query, whatever the number of messages; Python only
lays the counted rows out as the bars of an inline SVG chart (no script).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from review.models import ReviewItem
from review.sensitivity import SensitiveType

DAYS = 30
BAR_WIDTH = 18
BAR_GAP = 6
CHART_HEIGHT = 180
AXIS_WIDTH = 32
LABEL_HEIGHT = 20
# One colour per type (and one for a refusal that named no type), readable on
# the admin's light and dark themes.
COLOURS = {
    SensitiveType.SEVERE: "#b5179e",
    SensitiveType.PORNOGRAPHY: "#e63946",
    SensitiveType.ADVERTISING: "#f4a261",
    SensitiveType.PROHIBITED: "#6a4c93",
    SensitiveType.ABUSE: "#d62828",
    SensitiveType.VIOLENCE: "#264653",
    SensitiveType.OTHER: "#2a9d8f",
    None: "#8d99ae",
}


@dataclass
class Segment:
    y: int
    height: int
    colour: str
    title: str


@dataclass
class Bar:
    day: date
    x: int
    total: int
    label: str = ""
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Legend:
    name: str
    colour: str
    count: int


def type_label(value: int | None) -> str:
    return str(SensitiveType(value).label) if value else str(_("type not given"))


def build_overview(now: datetime | None = None) -> dict:
    """Return the chart's bars, the legend and the totals by model and by user."""
    today = timezone.localdate(now or timezone.now())
    first_day = today - timedelta(days=DAYS - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    items = ReviewItem.objects.filter(message_created_at__gte=since)
    counts = _counts_by_day_and_type(items)
    bars = _bars(first_day, counts)
    return {
        "bars": bars,
        "legend": _legend(counts),
        "total": sum(bar.total for bar in bars),
        "peak": max((bar.total for bar in bars), default=0),
        "by_model": list(_totals(items, "model")),
        "by_user": list(_totals(items, "user__username")),
        # Room on the right for the last day's label.
        "width": AXIS_WIDTH + DAYS * (BAR_WIDTH + BAR_GAP) + 24,
        "height": CHART_HEIGHT + LABEL_HEIGHT,
        "chart_height": CHART_HEIGHT,
        "axis_width": AXIS_WIDTH,
        "bar_width": BAR_WIDTH,
        "first_day": first_day,
        "last_day": today,
    }


def _counts_by_day_and_type(items) -> dict[tuple[date, int | None], int]:
    rows = (
        items.annotate(day=TruncDate("message_created_at"))
        .values("day", "sensitive_type")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {(row["day"], row["sensitive_type"]): row["count"] for row in rows}


def _totals(items, key: str):
    return (
        items.values(key)
        .annotate(
            count=Count("id"), refused=Count("id", filter=Q(refusal_code__isnull=False))
        )
        .order_by("-count", key)
    )


def _bars(first_day: date, counts: dict[tuple[date, int | None], int]) -> list[Bar]:
    peak = max(_day_totals(counts).values(), default=0) or 1
    scale = CHART_HEIGHT / peak
    bars = []
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        bar = Bar(day=day, x=AXIS_WIDTH + offset * (BAR_WIDTH + BAR_GAP), total=0)
        if offset % 5 == 0 or offset == DAYS - 1:
            bar.label = day.strftime("%m-%d")
        top = CHART_HEIGHT
        for kind in COLOURS:
            count = counts.get((day, kind), 0)
            if not count:
                continue
            height = max(1, round(count * scale))
            top -= height
            bar.total += count
            bar.segments.append(
                Segment(
                    y=top,
                    height=height,
                    colour=COLOURS[kind],
                    title=f"{day.isoformat()} · {type_label(kind)}: {count}",
                )
            )
        bars.append(bar)
    return bars


def _day_totals(counts: dict[tuple[date, int | None], int]) -> dict[date, int]:
    totals: dict[date, int] = {}
    for (day, _kind), count in counts.items():
        totals[day] = totals.get(day, 0) + count
    return totals


def _legend(counts: dict[tuple[date, int | None], int]) -> list[Legend]:
    return [
        Legend(
            type_label(kind),
            colour,
            sum(n for (_day, k), n in counts.items() if k == kind),
        )
        for kind, colour in COLOURS.items()
    ]
