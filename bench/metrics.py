"""From frame arrivals and the fake's delta log to the numbers in the report."""

import bisect
import difflib
import html
import itertools
import math
import re
from collections.abc import Sequence

_BLOCK_TAG_RE = re.compile(
    r"</?(?:p|pre|div|li|ul|ol|h[1-6]|blockquote|br|hr|table|thead|tbody|tr|td|th|article|footer|"
    r"header|section|details|summary|button|span class=\"usage)\b[^>]*>",
    re.IGNORECASE,
)
_TAG_RE = re.compile(r"<[^>]+>")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..100); None for no data."""
    if not values:
        return None
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return data[low] + (data[high] - data[low]) * (pos - low)


def summary(values: Sequence[float]) -> dict:
    if not values:
        return {"n": 0, "min": None, "p50": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(values),
        "min": min(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def lost_and_duplicated(sent: str, received: str) -> tuple[int, int]:
    """Characters the client never got, and characters it got more than once (or never sent)."""
    if sent == received:
        return 0, 0
    matcher = difflib.SequenceMatcher(None, sent, received, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return len(sent) - matched, len(received) - matched


def delivery_lags(
    frames: Sequence[tuple[float, int]], delta_lengths: Sequence[int], delta_times: Sequence[float]
) -> list[float]:
    """Seconds from the fake emitting the last delta a frame completes to the frame's arrival.

    `frames` holds (arrival, cumulative text length after the frame); the fake's deltas are mapped
    to the same cumulative character offsets.
    """
    count = min(len(delta_lengths), len(delta_times))
    if not count:
        return []
    ends = list(itertools.accumulate(delta_lengths[:count]))
    lags = []
    for arrival, end in frames:
        k = min(bisect.bisect_left(ends, end), count - 1)
        lags.append(arrival - delta_times[k])
    return lags


def delta_lags(
    spans: Sequence[tuple[float, int, int]], delta_lengths: Sequence[int], delta_times: Sequence[float]
) -> list[float]:
    """Per text delta the fake wrote: seconds from writing it to the arrival of the `d` frame that
    carries its last character (as Open WebUI's per-token figure is measured).

    `spans` holds (arrival, start, end) for each applied `d` frame: the cumulative character
    offsets of the text it carried. A delta no `d` frame carries (it came in a snapshot, or was
    lost) has no lag; empty deltas have none either.
    """
    count = min(len(delta_lengths), len(delta_times))
    ends = list(itertools.accumulate(delta_lengths[:count]))
    frame_ends = [end for _, _, end in spans]
    lags = []
    for k, end in enumerate(ends):
        if not delta_lengths[k]:
            continue
        i = bisect.bisect_left(frame_ends, end)
        if i == len(spans) or spans[i][1] >= end:
            continue
        lags.append(spans[i][0] - delta_times[k])
    return lags


def parse_exposition(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text exposition -> {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric(samples: dict, name: str, **labels) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def metric_delta(before: dict, after: dict, name: str, **labels) -> float:
    return metric(after, name, **labels) - metric(before, name, **labels)


def histogram_delta(before: dict, after: dict, name: str, **labels) -> dict:
    """Count, sum and mean of a histogram over a window; p50/p99 interpolated in the buckets."""
    count = metric_delta(before, after, f"{name}_count", **labels)
    total = metric_delta(before, after, f"{name}_sum", **labels)
    buckets: dict[float, float] = {}
    want = set(labels.items())
    for (n, ls), value in after.items():
        if n != f"{name}_bucket" or not want <= set(ls):
            continue
        le = float(dict(ls)["le"])
        prior = before.get((n, ls), 0.0)
        buckets[le] = buckets.get(le, 0.0) + value - prior
    out = {"count": count, "sum_s": total, "mean_ms": total / count * 1000 if count else None}
    for q in (50, 99):
        out[f"p{q}_ms"] = _bucket_quantile(sorted(buckets.items()), count, q) if count else None
    return out


def _bucket_quantile(buckets: list[tuple[float, float]], count: float, q: float) -> float | None:
    rank = count * q / 100
    low_edge, low_count = 0.0, 0.0
    for edge, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(edge):
                return low_edge * 1000  # beyond the last finite bucket: its edge, a lower bound
            span = cumulative - low_count
            fraction = (rank - low_count) / span if span else 1.0
            return (low_edge + (edge - low_edge) * fraction) * 1000
        low_edge, low_count = edge, cumulative
    return None


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares slope and intercept; None with fewer than two distinct x."""
    xs = {x for x, _ in points}
    if len(xs) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    slope = sxy / sxx
    return slope, my - slope * mx


def html_shows_text(rendered: str, text: str) -> bool:
    """Whether rendered HTML (an end frame) shows every word of a reply's markdown text, in order.

    The browser swaps the end frame in for the streamed text, so a reply whose `d` frames were lost
    can still end up complete on screen; this tells "lost live, recovered at the end" from "lost".
    """
    shown = html.unescape(_TAG_RE.sub("", _BLOCK_TAG_RE.sub(" ", rendered))).split()
    words = [w for w in text.split() if not w.startswith("```")]
    remaining = iter(shown)
    return all(any(word == seen for seen in remaining) for word in words)
