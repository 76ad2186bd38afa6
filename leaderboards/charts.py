"""Altair charts of the board: quality against a cost, the Pareto front drawn and labelled, dominated entries
faded, far-off entries pinned to the axis edge (:func:`axis_domain`); a model x device latency heat map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from leaderboards.frames import COSTS, QUALITY

LOG_SCALE_SPAN = 10.0
FRONT, DOMINATED, INVALID = "on the Pareto front", "dominated", "invalid (not ranked)"
COLOURS = alt.Scale(domain=[FRONT, DOMINATED, INVALID], range=["#d62728", "#7f7f7f", "#ff7f0e"])


def use_log_scale(values: Sequence[float]) -> bool:
    """Log x when all values are positive and span more than ``LOG_SCALE_SPAN``x."""
    numbers = [float(v) for v in values]
    if not numbers or min(numbers) <= 0:
        return False
    return max(numbers) / min(numbers) > LOG_SCALE_SPAN


FAR_OUT = 3.0  # Tukey's far-out fence: beyond 3 interquartile ranges from the quartiles
MAX_HEATMAP_ROWS = 40


def axis_domain(values: Sequence[float], log: bool, pad_fraction: float = 0.06, min_span: float = 0.0) -> list[float]:
    """[low, high] of an axis over ``values``: the values inside Tukey's far-out fences (in log space for a log
    axis), padded by ``pad_fraction`` of the span (at least ``min_span``, so one point or equal points get a
    readable range). Values outside are drawn at the edge (the scale clamps) and listed in the caption: one
    identity entry at 0.004 ms no longer stretches a latency axis over seven decades."""
    numbers = np.array([float(v) for v in values if v is not None and np.isfinite(v)], float)
    if log:
        numbers = np.log10(numbers[numbers > 0])
    if numbers.size == 0:
        return [0.0, 1.0]
    inside = numbers[~far_out(numbers)]
    low, high = float(inside.min()), float(inside.max())
    pad = max((high - low) * pad_fraction, (np.log10(1.5) if log else min_span) / 2, 1e-9)
    low, high = low - pad, high + pad
    return [float(10**low), float(10**high)] if log else [low, high]


def far_out(numbers: np.ndarray) -> np.ndarray:
    """Which of ``numbers`` lie beyond Tukey's far-out fences (none with fewer than 4 values)."""
    if numbers.size < 4:
        return np.zeros(numbers.size, bool)
    q1, q3 = np.percentile(numbers, [25, 75])
    spread = max(q3 - q1, 1e-12)
    return (numbers < q1 - FAR_OUT * spread) | (numbers > q3 + FAR_OUT * spread)


def off_axis(values: Sequence[float], log: bool) -> int:
    """How many of ``values`` the axis of :func:`axis_domain` pins to its edge."""
    numbers = np.array([float(v) for v in values], float)
    if log:
        numbers = np.log10(np.where(numbers > 0, numbers, np.nan))
    numbers = numbers[np.isfinite(numbers)]
    return int(far_out(numbers).sum())


def log_axis(costs: Sequence[float]) -> bool:
    """Whether a cost axis is logarithmic: :func:`use_log_scale` over the costs inside the far-out fences."""
    numbers = np.array([float(c) for c in costs], float)
    if numbers.size == 0 or (numbers <= 0).any():
        return False
    return use_log_scale(numbers[~far_out(np.log10(numbers))].tolist())


def status_of(frame: pd.DataFrame) -> list[str]:
    return [FRONT if p else (DOMINATED if v else INVALID) for p, v in zip(frame["pareto"], frame["valid"], strict=True)]


def front_line(frame: pd.DataFrame, quality: str = "psnr", cost: str = "median_ms") -> pd.DataFrame:
    """The front's points in ascending cost (for the step line)."""
    ascending_quality = not QUALITY[quality].higher_is_better
    front = frame[frame["pareto"]].sort_values([cost, quality], ascending=[True, ascending_quality], kind="stable")
    return front[[cost, quality, "submission"]].reset_index(drop=True)


def quality_cost_chart(
    frame: pd.DataFrame, quality: str = "psnr", cost: str = "median_ms", reported: pd.DataFrame | None = None
) -> alt.LayerChart:
    """``quality`` against ``cost`` for one device's entries (``pareto`` and ``valid`` already set); with
    ``reported`` (:func:`leaderboards.frames.reported_frame`) and a cost papers publish (MACs, params), the
    papers' numbers as open grey squares, never joined to the measured front."""
    q_axis, c_axis = QUALITY[quality], COSTS[cost]
    plotted = frame[frame[quality].notna() & frame[cost].notna()]
    costs = plotted[cost].tolist()
    log = log_axis(costs)
    x = alt.X(
        f"{cost}:Q",
        title=c_axis.title + (", log scale" if log else ""),
        scale=alt.Scale(type="log" if log else "linear", domain=axis_domain(costs, log), clamp=True, nice=False),
        axis=alt.Axis(format="~s" if log else f",.{min(c_axis.digits, 2)}~f"),
    )
    y = alt.Y(
        f"{quality}:Q",
        title=q_axis.title,
        scale=alt.Scale(domain=axis_domain(plotted[quality].tolist(), False, min_span=10.0 ** (1 - q_axis.digits)),
                        clamp=True, nice=False),
        axis=alt.Axis(format=f".{max(q_axis.digits - 1, 1)}f"),
    )  # fmt: skip
    data = plotted.assign(status=status_of(plotted))[
        ["submission", "team", *QUALITY, "median_ms", "macs_g", "params_k", "status", "stability", "stability_kind",
         "note"]
    ]  # fmt: skip
    numbers = [
        *((a.column, a.title, a.digits) for a in QUALITY.values()),
        ("median_ms", "median (ms)", 3), ("macs_g", "MACs (G)", 3), ("params_k", "params (K)", 1),
    ]  # fmt: skip
    tooltip = [  # a number some point lacks would read "null" in its tooltip: such a field is left out
        "submission",
        "team",
        *(alt.Tooltip(f"{column}:Q", title=title, format=f",.{digits}f") for column, title, digits in numbers
          if len(data) and data[column].notna().all()),
        "status",
        alt.Tooltip("stability:N", title="latency"),
        "note",
    ]  # fmt: skip
    points = (
        alt.Chart(data)
        .mark_point(size=80, filled=True)
        .encode(
            x=x,
            y=y,
            color=alt.Color("status:N", title=None, scale=COLOURS),
            shape=alt.Shape(  # how far the latency can be trusted, visible on the point itself
                "stability_kind:N",
                title="latency",
                scale=alt.Scale(
                    domain=["stable", "unstable", "quick", "predicted", ""],
                    range=["circle", "diamond", "triangle-up", "square", "cross"],
                ),
            ),
            opacity=alt.condition(f"datum.status == '{DOMINATED}'", alt.value(0.3), alt.value(1.0)),
            tooltip=tooltip,
        )
        .interactive()
    )
    line = (
        alt.Chart(front_line(plotted, quality, cost))
        .mark_line(interpolate="step-after", color="#d62728")
        .encode(x=x, y=y)
    )
    front = plotted[plotted["pareto"]]
    labels = (  # the front's entries are named on the chart; every point is named on hover
        alt.Chart(front[[cost, quality, "submission"]])
        .mark_text(align="left", dx=7, dy=-7, fontSize=11, color="#d62728")
        .encode(x=x, y=y, text="submission:N")
    )
    layers: list[Any] = [line, points, labels]
    if reported is not None and cost in ("macs_g", "params_k") and quality in reported.columns:
        papers = reported[reported[quality].notna() & reported[cost].notna()]
        if len(papers):
            layers.append(
                alt.Chart(papers.assign(kind="reported (paper)")[["submission", quality, cost, "kind", "source"]])
                .mark_square(size=70, filled=False, color="#555555")
                .encode(x=x, y=y, tooltip=["submission", alt.Tooltip(f"{quality}:Q", format=".2f"),
                                           alt.Tooltip(f"{cost}:Q", format=".2f"), "kind", "source"])
            )  # fmt: skip
    return alt.LayerChart(layer=layers)


def latency_heatmap(frame: pd.DataFrame) -> alt.LayerChart:
    """Model x device median latency (the AI Benchmark view): one cell per (submission, device label), its
    colour the latency on a log scale, its text the milliseconds; at most MAX_HEATMAP_ROWS models (best
    PSNR first), each the fastest of its runs on that device."""
    timed = frame[frame["median_ms"].notna() & frame["device_label"].notna()]
    models = list(timed.sort_values("psnr", ascending=False)["submission"].drop_duplicates()[:MAX_HEATMAP_ROWS])
    cells = (timed[timed["submission"].isin(models)].groupby(["submission", "device_label"], as_index=False)
             ["median_ms"].min())  # fmt: skip
    cells["text"] = [f"{v:,.1f}" if v >= 1 else f"{v:.3f}" for v in cells["median_ms"]]
    base = alt.Chart(cells).encode(
        x=alt.X("device_label:N", title="device", axis=alt.Axis(labelAngle=0, orient="top", labelLimit=240)),
        y=alt.Y("submission:N", title=None, sort=models, axis=alt.Axis(labelOverlap=False, labelLimit=240)),
    )
    rects = base.mark_rect().encode(
        color=alt.Color("median_ms:Q", title="median (ms)", scale=alt.Scale(type="log", scheme="yelloworangered")),
        tooltip=["submission", alt.Tooltip("device_label:N", title="device"),
                 alt.Tooltip("median_ms:Q", title="median (ms)", format=",.3f")],
    )  # fmt: skip
    text = base.mark_text(fontSize=11).encode(text="text:N")
    return alt.LayerChart(layer=[rects, text]).properties(height=max(120, 26 * len(models)))
