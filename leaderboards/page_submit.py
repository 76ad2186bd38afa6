"""Submit page: a zipped submission folder (or a folder on the board's machine) sent to the service's
queue with the team's token, through the same checks and messages as ``bench submit``
(:func:`bench.service.submit.submit`); the archive is unpacked safely (:mod:`bench.service.archive`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from bench.errors import USER_ERRORS
from bench.tasks import all_tasks
from leaderboards.context import Context
from leaderboards.frames import as_text

HOW = """A submission is a folder with `submission.yaml` and its model files (docs/submissions.md). Zip the
folder, give your team's token (`bench team create NAME` prints it), choose the tasks it declares, and submit:
workers score it in the sandbox and the *Queue* page shows where it is. Nothing of the model runs here."""


def render(context: Context) -> None:
    from bench.runtime.devices import DEVICES  # the board's other pages load no runtime

    st.subheader("Submit a model")
    st.markdown(HOW)
    token = st.text_input("Team token", type="password", key="submit-token")
    source = st.radio("Submission", ["Upload a zipped folder", "A folder on this machine"], key="submit-source",
                      horizontal=True)  # fmt: skip
    upload = path = None
    if source == "Upload a zipped folder":
        upload = st.file_uploader("Zipped submission folder", type=["zip"], key="submit-upload")
    else:
        path = st.text_input("Folder path", key="submit-path")
    tasks = st.multiselect("Tasks", sorted(all_tasks()), key="submit-tasks")
    devices = st.multiselect("Latency devices (default: the format's own)", sorted(DEVICES), key="submit-devices")
    quick = st.checkbox("Quick latency protocol", key="submit-quick")
    if not st.button("Submit", type="primary", key="submit-go"):
        return
    if upload is None and not path:
        st.error("Choose a zipped folder to upload, or give a folder path.")
        return
    from bench.service.archive import unpack  # only when a submission is sent: it loads the submission code
    from bench.service.submit import submit

    try:
        with tempfile.TemporaryDirectory(prefix="bench-upload-") as scratch:
            folder = unpack(upload.getvalue(), Path(scratch)) if upload is not None else Path(str(path))
            queued = submit(context.store, token, folder, tasks, devices or None, quick)
    except USER_ERRORS as exc:
        st.error(as_text(exc))
        return
    lines = [f"job {q.job_id}: {q.name} on {q.task} ({'queued' if q.new else 'already submitted'})" for q in queued]
    st.success(as_text("; ".join(lines)) + " — follow them on the Queue page.")
