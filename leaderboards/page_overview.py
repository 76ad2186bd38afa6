"""Overview page: every task and device with its best entry, and the devices measured."""

from __future__ import annotations

import streamlit as st

from leaderboards.context import Context
from leaderboards.frames import best_entries, csv_bytes, device_summary, latency_note
from leaderboards.widgets import column_config


def render(context: Context) -> None:
    frame = context.frame
    results, submissions = frame["result_id"].nunique(), frame["sha256"].nunique()
    columns = st.columns(4)
    columns[0].metric("results", results)
    columns[1].metric("submissions", submissions)
    columns[2].metric("tasks", frame["task"].nunique())
    columns[3].metric("devices", frame["device_label"].nunique())

    st.subheader("Best entry per task and device")
    best = best_entries(frame, context.titles)
    st.dataframe(
        best,
        hide_index=True,
        column_config=column_config(best, {"link": "task page"}),
        key="overview-best",
    )
    st.download_button(
        "Download CSV", csv_bytes(best.drop(columns="link")), "best-entries.csv", "text/csv", key="csv-overview"
    )
    st.caption(
        "*best*: the highest PSNR among valid entries (ties: lower median latency); *fastest*: the lowest "
        "median latency among valid entries. " + latency_note(frame)
    )

    st.subheader("Devices")
    devices = device_summary(frame)
    st.dataframe(devices, hide_index=True, key="overview-devices")
    st.download_button("Download CSV", csv_bytes(devices), "devices.csv", "text/csv", key="csv-devices")
