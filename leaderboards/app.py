"""The leaderboard: ``streamlit run leaderboards/app.py -- --db URL`` (or ``$BENCH_DB``; ``bench board``).

Reads the results store (plus task titles and track definitions from the registries); the Submit page
queues jobs of the submission service. Seven pages, chosen in the bar at the top or with
``?page=overview|task|submission|challenge|how|submit|queue``: data shaping lives in ``frames.py`` /
``tables.py`` / ``families.py`` / ``charts.py`` / ``challenge_view.py``, URL state in ``state.py``, and
each ``page_*.py`` only places widgets.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `streamlit run` puts only this folder on the path
    sys.path.insert(0, _ROOT)

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402
from sqlalchemy.exc import SQLAlchemyError  # noqa: E402

from bench.store import Store, describe_url, resolve_db_url  # noqa: E402
from bench.store.board_rows import leaderboard_rows, store_version  # noqa: E402
from bench.tasks import TaskError, all_tasks  # noqa: E402
from leaderboards import (  # noqa: E402
    page_challenge,
    page_how,
    page_overview,
    page_queue,
    page_submission,
    page_submit,
    page_task,
    state,
)
from leaderboards.context import Context  # noqa: E402
from leaderboards.frames import as_text, board_frame  # noqa: E402

RENDERERS = {
    "overview": page_overview.render,
    "task": page_task.render,
    "submission": page_submission.render,
    "challenge": page_challenge.render,
    "how": page_how.render,
    "submit": page_submit.render,
    "queue": page_queue.render,
}
NEEDS_RESULTS = ("overview", "task", "submission")  # the other pages work on an empty store
PAGE_STYLE = "<style>.block-container {padding-left: 2rem; padding-right: 2rem; padding-top: 2rem;}</style>"
EMPTY_STORE = (
    "No results in this store yet. Add some with `bench demo` (the whole flow on the embedded data) or "
    "`bench score SUBMISSION_DIR --task TASK_ID --db URL`, then reload this page; *How to submit* explains both."
)


@st.cache_resource(show_spinner=False)
def open_store(url: str) -> Store:
    return Store(url)


@st.cache_data(show_spinner=False, max_entries=4)
def load_frame(url: str, version: tuple[int, int]) -> pd.DataFrame:
    """The board frame of the whole store; cached until a result is added (``version`` changes)."""
    return board_frame(leaderboard_rows(open_store(url).engine))


def task_titles() -> dict[str, str]:
    try:
        return {task_id: task.title for task_id, task in all_tasks().items()}
    except TaskError:
        return {}


def main() -> None:
    st.set_page_config(page_title="Image-restoration benchmark", layout="wide", initial_sidebar_state="collapsed")
    st.markdown(PAGE_STYLE, unsafe_allow_html=True)  # the project's own CSS, no submitter text
    st.title("Efficient image restoration: leaderboard")
    url = resolve_db_url(state.db_argument(sys.argv[1:]))
    state.seed_choice("page", list(state.PAGES))
    page = st.radio("Page", list(state.PAGES), format_func=state.PAGES.__getitem__, key="page", horizontal=True,
                    label_visibility="collapsed")  # fmt: skip
    try:
        store = open_store(url)
        frame = load_frame(url, store_version(store.engine))
    except (SQLAlchemyError, OSError) as exc:
        st.error(f"Cannot read the results store {as_text(describe_url(url))}: {as_text(exc)}")
        return
    if frame.empty and page in NEEDS_RESULTS:
        st.info(EMPTY_STORE)
    else:
        RENDERERS[page](Context(store=store, frame=frame, titles=task_titles()))
    st.caption(f"Store: {as_text(describe_url(url))}, {frame['result_id'].nunique()} results.")
    state.write_url(page)


main()
