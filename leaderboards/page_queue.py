"""Queue page: the service's jobs (queued, running, done, failed) with their reasons; a submitter who gives
the team's token sees that team's failure reasons in full, everyone else their first words. A finished
job links to its submission page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bench.errors import USER_ERRORS
from bench.service.queue import STATUSES, list_jobs
from bench.service.teams import team_of
from leaderboards.context import Context
from leaderboards.frames import as_text, plain
from leaderboards.widgets import show_table

SHORT_REASON = 80


def _reason(text: str | None, full: bool) -> str:
    if not text:
        return ""
    text = plain(text)
    return text if full or len(text) <= SHORT_REASON else text[:SHORT_REASON].rstrip() + " …"


def jobs_frame(jobs: list[dict[str, object]], own_team: str | None) -> pd.DataFrame:
    """One row per job for display: times as text, a link for a finished job, reasons full for ``own_team``."""
    rows = [{
        "job": job["id"], "status": job["status"], "team": plain(job["team"]),
        "name": plain(job["name"]), "task": job["task"], "attempts": job["attempts"],
        "submitted": _when(job["created_at"]), "finished": _when(job["finished_at"]),
        "result": f"?page=submission&run={job['result_id']}" if job["result_id"] else None,
        "reason": _reason(job["error"], own_team is not None and job["team"] == own_team),  # type: ignore[arg-type]
    } for job in jobs]  # fmt: skip
    columns = ["job", "status", "team", "name", "task", "attempts", "submitted", "finished", "result", "reason"]
    return pd.DataFrame(rows, columns=columns)


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else ""


def render(context: Context) -> None:
    jobs = list_jobs(context.store)
    counts = {status: sum(1 for j in jobs if j["status"] == status) for status in STATUSES}
    for column, (status, count) in zip(st.columns(len(STATUSES)), counts.items(), strict=True):
        column.metric(status, count)
    token = st.text_input("Team token (to read your team's failures in full)", type="password", key="queue-token")
    own = None
    if token:
        try:
            own = team_of(context.store, token).name
        except USER_ERRORS as exc:
            st.warning(as_text(exc))
    if not jobs:
        st.info("No jobs yet: submit one on the Submit page, or with bench submit DIR --task ID.")
        return
    table = jobs_frame(jobs, own)
    show_table(table, "queue-jobs", {"result": "result"})
    if st.button("Refresh", key="queue-refresh"):
        st.rerun()
