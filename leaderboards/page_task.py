"""Task page: a sortable, filterable table and a quality-cost chart per device with its Pareto front."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leaderboards import state
from leaderboards.charts import quality_cost_chart
from leaderboards.context import Context
from leaderboards.frames import (
    COSTS,
    QUALITY,
    Filters,
    apply_filters,
    choices,
    csv_bytes,
    latency_note,
    reported_frame,
    reported_table,
    tag_set,
    task_table,
    with_pareto,
)
from leaderboards.widgets import column_config

MAX_CHARTS = 8


def choose_task(context: Context) -> pd.DataFrame:
    """Task (and task version) selectors; the rows of that version only (versions are never mixed)."""
    frame = context.frame
    tasks = sorted(frame["task"].unique())
    state.seed_choice("task", tasks)
    task = st.selectbox("Task", tasks, format_func=context.task_label, key="task")
    rows = frame[frame["task"] == task]
    versions = sorted(rows["task_version"].unique(), reverse=True)
    state.seed_choice("version", versions, int)
    version = versions[0]
    if len(versions) > 1:
        version = st.selectbox("Task version (results of different versions are not compared)", versions, key="version")
    state.publish(task=task, version=int(version) if len(versions) > 1 else None)
    return rows[rows["task_version"] == version]


def filters(rows: pd.DataFrame) -> Filters:
    """The filter widgets (each reproducible from the URL)."""
    with st.expander("Filters", expanded=True):
        columns = st.columns(3)
        picked: dict[str, list[str]] = {}
        fields = (
            ("devices", "Device", choices(rows, "device_label")),
            ("backends", "Backend", choices(rows, "backend")),
            ("precisions", "Precision", choices(rows, "precision")),
            ("tags", "Tags (any of)", tag_set(rows)),
            ("teams", "Team", choices(rows, "team")),
            ("stabilities", "Latency stability", [k for k in ("stable", "unstable", "quick")
                                                   if k in set(rows["stability_kind"])]),
        )  # fmt: skip
        for index, (key, label, options) in enumerate(fields):
            state.seed_many(key, options)
            picked[key] = columns[index % 3].multiselect(label, options, key=key, placeholder="all")
        state.seed_day("since")
        state.seed_day("until")
        since = columns[2].date_input("From date", value=None, key="since")
        until = columns[2].date_input("To date", value=None, key="until")
    state.publish(**picked, since=since, until=until)
    return Filters(**picked, since=since, until=until)


def axes() -> tuple[str, str]:
    columns = st.columns(2)
    state.seed_choice("quality", list(QUALITY))
    state.seed_choice("cost", list(COSTS))
    quality = columns[0].radio(
        "Quality", list(QUALITY), format_func=lambda k: QUALITY[k].title, key="quality", horizontal=True
    )
    cost = columns[1].radio("Cost", list(COSTS), format_func=lambda k: COSTS[k].title, key="cost", horizontal=True)
    state.publish(quality=quality, cost=cost)
    return str(quality), str(cost)


def render(context: Context) -> None:
    rows = choose_task(context)
    chosen = filters(rows)
    quality, cost = axes()
    view = with_pareto(apply_filters(rows, chosen), quality, cost)

    st.subheader(f"Results ({view['result_id'].nunique()} of {rows['result_id'].nunique()} results)")
    table = task_table(view, quality, cost)
    st.dataframe(
        table,
        hide_index=True,
        column_config=column_config(table, {"details": "details"}),
        key="task-table",
    )
    st.download_button(
        "Download CSV",
        csv_bytes(table.drop(columns="details")),
        f"{rows['task'].iloc[0]}.csv",
        "text/csv",
        key="csv-task",
    )
    st.caption(
        latency_note(view) + f" *Pareto*: not dominated in {QUALITY[quality].title} and {COSTS[cost].title} by "
        "another valid entry on the same device, among the entries shown. Invalid entries are marked in *note* "
        "and never on a front. Click a column header to sort."
    )

    reported = reported_frame(str(rows["task"].iloc[0]))
    if len(reported):
        st.subheader(f"Reported in papers ({len(reported)})")
        st.dataframe(reported_table(reported), hide_index=True, key="reported-table")
        st.caption(
            "What the papers publish (bench/reported.py, reported/*.yaml): never measured here, never ranked with the "
            "measured entries. MACs are scaled to this task's latency input by pixel count; the published figure "
            "and its output size are beside them. On the MACs and params charts they are open grey squares."
        )

    st.subheader(f"{QUALITY[quality].title} vs {COSTS[cost].title}")
    devices = choices(view, "device_label")
    if not devices:
        st.info("No entry in this view has a latency to plot.")
        return
    if len(devices) > MAX_CHARTS:
        st.caption(f"{len(devices)} devices: charts for the {MAX_CHARTS} with most entries (filter to see others).")
    for tab, device in zip(st.tabs(devices[:MAX_CHARTS]), devices[:MAX_CHARTS], strict=True):
        with tab:
            on_device = view[view["device_label"] == device]
            st.altair_chart(quality_cost_chart(on_device, quality, cost, reported), width="stretch")
            front = int(on_device["pareto"].sum())
            st.caption(
                f"{device}: {len(on_device)} entries, {front} on the Pareto front (red, joined by the step "
                "line); dominated entries faded; invalid entries as orange crosses."
            )
