"""Pure: chart geometry for server-rendered SVG (no chart library, no CDN)."""

from dataclasses import dataclass

SERIES = [
    ("input", "Input"),
    ("cache_write", "Cache write"),
    ("cache_read", "Cache read"),
    ("output", "Output"),
]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


def stacked_bars(days: list[dict], *, width: int = 720, height: int = 200) -> list[Rect]:
    """One bar per day, stacked by token kind, scaled to the busiest day."""
    if not days:
        return []
    peak = max(sum(day[key] for key, _ in SERIES) for day in days) or 1
    slot = width / len(days)
    bar = max(1.0, slot * 0.8)
    rects = []
    for i, day in enumerate(days):
        top = float(height)
        for key, name in SERIES:
            h = height * day[key] / peak
            if h > 0:
                top -= h
                rects.append(
                    Rect(i * slot, top, bar, h, key, f"{day['day']}: {day[key]:,} {name.lower()} tokens")
                )
    return rects


def bar_list(rows: list[dict], *, value: str = "cost", width: int = 400) -> list[dict]:
    """Horizontal bars for a breakdown: each row gets a `bar` width relative to the largest."""
    peak = max((row[value] or 0 for row in rows), default=0) or 1
    return [{**row, "bar": round(width * float(row[value] or 0) / float(peak), 1)} for row in rows]
