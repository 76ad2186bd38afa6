"""Overview page: counts, the family view (one row per model over every data set, as papers print it),
the best entry per task and device, and the devices measured."""

from __future__ import annotations

import streamlit as st

from leaderboards import state
from leaderboards.context import Context
from leaderboards.families import FAMILIES, families_of, family_table
from leaderboards.frames import csv_bytes, latency_note
from leaderboards.tables import best_entries, device_summary, newest_runs
from leaderboards.widgets import show_table

SET_WIDTH = 112  # px: "37.54 / 0.9587"
FIXED_COLUMNS = ("model", "team", "avg rank", "sets")


def family_view(context: Context) -> None:
    """Family and group pickers (kept in the URL), then the family table."""
    found = families_of(sorted(context.frame["task"].unique()))
    state.seed_choice("family", list(found))
    family = st.radio("Task family", list(found), format_func=lambda f: FAMILIES.get(f, f), key="family",
                      horizontal=True)  # fmt: skip
    groups = found[family]
    key = f"group-{family}"
    state.seed_choice(key, groups)
    if key not in st.session_state and state.query_text("group") in groups:
        st.session_state[key] = state.query_text("group")
    group = groups[0]
    if len(groups) > 1:
        group = st.radio("Scale, noise level or data set", groups, key=key, horizontal=True)
    state.publish(family=family, group=group if len(groups) > 1 else None)
    table = family_table(newest_runs(context.frame), family, group)
    if table.empty:
        st.info("No valid entry in this family yet.")
        return
    sets = [c for c in table.columns if c not in FIXED_COLUMNS and not str(c).endswith(")")]
    widths = {column: SET_WIDTH for column in sets} | {
        "model": 150,
        "team": "small",
        "MACs (G)": "small",
        "params (K)": "small",
    }
    show_table(table, f"overview-family-{family}", widths=widths | {c: 120 for c in table.columns if "(ms)" in c})
    st.download_button("Download CSV", csv_bytes(table), f"{family}-{group}.csv", "text/csv", key="csv-family")
    st.caption(
        "One row per model (name and team), its newest valid run on each data set: PSNR (dB) / SSIM as the task "
        "scores them. *avg rank*: the mean of its PSNR rank on each data set it has (1 = best); *sets*: how many "
        "it has. Latency: its lowest measured median on each device (ms). " + latency_note(context.frame)
    )


def render(context: Context) -> None:
    frame = context.frame
    columns = st.columns(4)
    columns[0].metric("results", frame["result_id"].nunique())
    columns[1].metric("submissions", frame["sha256"].nunique())
    columns[2].metric("tasks", frame["task"].nunique())
    columns[3].metric("devices", frame["device_label"].nunique())

    st.subheader("Models by task family")
    family_view(context)

    st.subheader("Best entry per task and device")
    best = best_entries(frame, context.titles)
    show_table(best, "overview-best", {"link": "task page"}, widths={"title": "medium", "task": "medium"})
    st.download_button(
        "Download CSV", csv_bytes(best.drop(columns="link")), "best-entries.csv", "text/csv", key="csv-overview"
    )
    st.caption(
        "*best*: the highest PSNR among valid entries (ties: lower median latency); *fastest*: the lowest "
        "median latency among valid entries; empty where no entry of that task and device is valid."
    )

    st.subheader("Devices")
    devices = device_summary(frame)
    show_table(devices, "overview-devices")
    st.download_button("Download CSV", csv_bytes(devices), "devices.csv", "text/csv", key="csv-devices")
