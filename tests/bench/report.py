"""Figures: percentiles, medians over runs, and the printed report (raw per-run lines, then one compact table)."""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..100); NaN for none."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": float(len(ordered)),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else math.nan,
        "mean": statistics.fmean(ordered) if ordered else math.nan,
    }


def answered(
    statuses: Mapping[int, int], errors: Mapping[str, int], elapsed: float, latencies: Iterable[float]
) -> dict[str, Any]:
    """What a load client prints of its answers: 2xx and other statuses, socket errors, latencies in ms."""
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return {
        "ok": ok,
        "non2xx": sum(statuses.values()) - ok,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": dict(errors),
        "elapsed": elapsed,
        "latency_ms": summarize([x * 1000 for x in latencies]),
    }


def median(values: Iterable[float | None]) -> float:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else math.nan


def num(value: float | None, digits: int = 0) -> str:
    """1,234 / 12.3 / "-" for a missing figure."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    say(title)
    lines = [header, *rows]
    for n, row in enumerate(lines):
        cells = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        say("  " + "  ".join(cells).rstrip())
        if n == 0:
            say("  " + "  ".join("-" * w for w in widths))
    say()
