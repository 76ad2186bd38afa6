"""Task page: a ranked, searchable, filterable grid with a column picker, a quality-cost chart per device
with its Pareto front, the papers' reported numbers, and a model x device latency heat map."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leaderboards import state
from leaderboards.charts import latency_heatmap, log_axis, off_axis, quality_cost_chart
from leaderboards.context import Context
from leaderboards.frames import (
    COSTS,
    QUALITY,
    Filters,
    apply_filters,
    as_text,
    choices,
    csv_bytes,
    latency_note,
    reported_frame,
    reported_table,
    tag_set,
    with_pareto,
)
from leaderboards.tables import OPTIONAL_COLUMNS, newest_runs, search, task_table
from leaderboards.widgets import show_table

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
    with st.expander("Filters", expanded=False):
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


def axes(rows: pd.DataFrame) -> tuple[str, str]:
    """The quality (the metrics this task's entries have) and cost pickers."""
    columns = st.columns(2)
    qualities = [q for q in QUALITY if rows[q].notna().any()] or ["psnr"]
    state.seed_choice("quality", qualities)
    state.seed_choice("cost", list(COSTS))
    quality = columns[0].radio(
        "Quality", qualities, format_func=lambda k: QUALITY[k].title, key="quality", horizontal=True
    )
    cost = columns[1].radio("Cost", list(COSTS), format_func=lambda k: COSTS[k].title, key="cost", horizontal=True)
    state.publish(quality=quality, cost=cost)
    return str(quality), str(cost)


def view_options() -> tuple[str, list[str], bool]:
    """The search box, the column picker and the every-run switch (each kept in the URL)."""
    columns = st.columns([2, 3, 1])
    if "q" not in st.session_state and (text := state.query_text("q")) is not None:
        st.session_state["q"] = text
    query = columns[0].text_input("Search name, team or tag", key="q", placeholder="e.g. fsrcnn, int8, team name")
    state.seed_many("cols", OPTIONAL_COLUMNS)
    shown = columns[1].multiselect("More columns", OPTIONAL_COLUMNS, key="cols", placeholder="backend, p90, tags ...")
    if "runs" not in st.session_state and state.query_text("runs") == "all":
        st.session_state["runs"] = True
    every_run = columns[2].toggle("Every run", key="runs", help="list older runs of the same file on the same device")
    state.publish(q=query.strip() or None, cols=shown, runs="all" if every_run else None)
    return query, list(shown), bool(every_run)


def render(context: Context) -> None:
    rows = choose_task(context)
    query, shown, every_run = view_options()
    chosen = filters(rows)
    quality, cost = axes(rows)
    listed = rows if every_run else newest_runs(rows)
    view = with_pareto(search(apply_filters(listed, chosen), query), quality, cost)

    results, devices = view["result_id"].nunique(), view["device_label"].nunique()
    st.subheader(f"Results: {len(view)} entries ({results} results on {devices} devices)")
    table = task_table(view, quality, cost, shown)
    show_table(table, "task-table", {"details": "details"})
    st.download_button(
        "Download CSV",
        csv_bytes(table.drop(columns="details")),
        f"{rows['task'].iloc[0]}.csv",
        "text/csv",
        key="csv-task",
    )
    hidden = len(rows) - len(listed)
    st.caption(
        "An entry is one result timed on one device. *rank*: its place among the valid entries of its own device, "
        f"by {QUALITY[quality].title}, ties by {COSTS[cost].title}. "
        + latency_note(view)
        + f" *Pareto*: not dominated in {QUALITY[quality].title} and {COSTS[cost].title} by another valid entry on "
        "the same device, among the entries shown. Invalid entries are marked in *note*, never ranked and never on "
        "a front. Click a column header to sort."
        + (f" {hidden} older runs of the same files are folded (switch on *Every run*)." if hidden else "")
    )

    reported = reported_frame(str(rows["task"].iloc[0]))
    if len(reported):
        with st.expander(f"Reported in papers ({len(reported)} models)"):
            show_table(reported_table(reported), "reported-table")
            st.caption(
                "What the papers publish (reported/*.yaml): never measured here, never ranked with the measured "
                "entries. MACs are scaled to this task's latency input by pixel count; the published figure and its "
                "output size are beside them. On the MACs and params charts they are open grey squares."
            )

    st.subheader(f"{QUALITY[quality].title} vs {COSTS[cost].title}")
    charts(view, quality, cost, reported)

    if view["median_ms"].notna().any():
        st.subheader("Latency by model and device")
        st.altair_chart(latency_heatmap(view), width="stretch")
        st.caption("Median latency (ms) of each model on each device, its fastest run there; colour on a log scale.")


def charts(view: pd.DataFrame, quality: str, cost: str, reported: pd.DataFrame) -> None:
    """One chart per device (tabs), with its front, labels and the count of entries it could not plot."""
    devices = choices(view, "device_label")
    if not devices:
        st.info("No entry in this view has a latency to plot.")
        return
    if len(devices) > MAX_CHARTS:
        st.caption(f"{len(devices)} devices: charts for the {MAX_CHARTS} with most entries (filter to see others).")
    for tab, device in zip(st.tabs(devices[:MAX_CHARTS]), devices[:MAX_CHARTS], strict=True):
        with tab:
            on_device = view[view["device_label"] == device]
            plotted = on_device[on_device[quality].notna() & on_device[cost].notna()]
            if plotted.empty:
                st.info(f"No entry on {as_text(device)} has both {QUALITY[quality].title} and {COSTS[cost].title}.")
                continue
            st.altair_chart(quality_cost_chart(on_device, quality, cost, reported), width="stretch")
            costs = plotted[cost].tolist()
            pinned = off_axis(costs, log_axis(costs)) + off_axis(plotted[quality].tolist(), False)
            missing = len(on_device) - len(plotted)
            st.caption(
                f"{as_text(device)}: {len(plotted)} entries plotted, {int(plotted['pareto'].sum())} on the Pareto "
                "front (red, named, joined by the step line); dominated entries faded; invalid entries as orange "
                "crosses. Hover a point for its name and numbers."
                + (f" {pinned} far-off entries are drawn at the axis edge." if pinned else "")
                + (f" {missing} entries without {COSTS[cost].title} are not plotted." if missing else "")
            )
