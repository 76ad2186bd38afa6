"""Altair charts of the board: quality against a cost, the Pareto front drawn, dominated entries faded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
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
    log = use_log_scale(plotted[cost].tolist())
    x = alt.X(
        f"{cost}:Q",
        title=c_axis.title + (", log scale" if log else ""),
        scale=alt.Scale(type="log") if log else alt.Scale(zero=False),
    )
    y = alt.Y(f"{quality}:Q", title=q_axis.title, scale=alt.Scale(zero=False))
    data = plotted.assign(status=status_of(plotted))[
        ["submission", "team", *QUALITY, "median_ms", "macs_g", "params_k", "status", "stability", "stability_kind",
         "note"]
    ]  # fmt: skip
    tooltip = [
        "submission",
        "team",
        *(alt.Tooltip(f"{a.column}:Q", title=a.title, format=f".{a.digits}f") for a in QUALITY.values()),
        alt.Tooltip("median_ms:Q", title="median (ms)", format=".3f"),
        alt.Tooltip("macs_g:Q", title="MACs (G)", format=".3f"),
        alt.Tooltip("params_k:Q", title="params (K)", format=".1f"),
        "status",
        alt.Tooltip("stability:N", title="latency"),
        "note",
    ]
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
                    domain=["stable", "unstable", "quick", ""], range=["circle", "diamond", "triangle-up", "cross"]
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
    layers: list[Any] = [line, points]
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
