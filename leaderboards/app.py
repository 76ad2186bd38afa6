"""The leaderboard: ``streamlit run leaderboards/app.py -- --db URL`` (or ``$BENCH_DB``).

Reads only the results store (and task titles from the task registry). Data shaping lives in
``leaderboards/views.py``; this script only places widgets.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `streamlit run` puts only this folder on the path
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402
from sqlalchemy.exc import SQLAlchemyError  # noqa: E402

from bench.store import Store, describe_url, resolve_db_url  # noqa: E402
from bench.tasks import TaskError, all_tasks  # noqa: E402
from leaderboards import views  # noqa: E402


@st.cache_resource(show_spinner=False)
def open_store(url: str) -> Store:
    return Store(url)


def task_titles() -> dict[str, str]:
    try:
        return {task_id: task.title for task_id, task in all_tasks().items()}
    except TaskError:
        return {}


def main() -> None:
    st.set_page_config(page_title="Image-restoration benchmark", layout="wide")
    st.title("Efficient image restoration: leaderboard")
    url = resolve_db_url(views.db_argument(sys.argv[1:]))
    try:
        rows = open_store(url).leaderboard_rows()
    except (SQLAlchemyError, OSError) as exc:
        st.error(f"Cannot read the results store {describe_url(url)}: {exc}")
        return
    st.caption(f"Store: `{describe_url(url)}`")
    if not rows:
        st.info(
            "No results in this store yet. Add some with `bench demo` (the whole flow on the embedded "
            "data) or `bench score SUBMISSION_DIR --task TASK_ID --db URL`, then reload this page."
        )
        return

    titles = task_titles()
    task = st.selectbox("Task", views.task_ids(rows), format_func=lambda t: views.task_label(t, titles), key="task")
    versions = views.task_versions(rows, task)
    version = versions[0]
    if len(versions) > 1:
        version = st.selectbox(
            "Task version (results of different versions are not compared)", versions, key=f"version-{task}"
        )
    selected = views.select_rows(rows, task, version)

    st.subheader("Results")
    st.dataframe(views.task_table(selected), hide_index=True)
    st.caption(
        views.latency_note(selected) + " *Pareto*: not dominated in PSNR and median latency by another "
        "entry on the same device."
    )

    st.subheader("PSNR vs median latency")
    device = st.selectbox("Device", views.devices(selected), key=f"device-{task}-{version}")
    frame = views.device_frame(selected, device)
    st.altair_chart(views.scatter_chart(frame), width="stretch")
    if len(frame) == 1:
        st.caption("Only one entry on this device: it is its own Pareto front.")


main()
