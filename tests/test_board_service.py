"""The board's Submit and Queue pages (AppTest, real SQLite store): a team submits a folder, the job is
queued with the same checks and messages as bench submit, a worker scores it, and the Queue page shows it
done with a link to its submission page; another team's failure reason is shortened, one's own is whole."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.service.queue import list_jobs
from bench.service.teams import create_team
from bench.service.worker import Worker, WorkerSettings
from bench.store import Store
from tests.conftest import REPO

APP = str(REPO / "leaderboards" / "app.py")


def _app(url: str, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("BENCH_DB", url)
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["page"] = page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _folder(root: Path, name: str, team: str) -> Path:
    folder = root / name
    shutil.copytree(REPO / "submissions" / "baselines" / "identity", folder)
    manifest = folder / "submission.yaml"
    text = re.sub(r"^name: identity$", f"name: {name}", manifest.read_text(), flags=re.M)
    manifest.write_text(text.replace("team: bench baselines", f"team: {team}").replace("[baseline, ", "["))
    return folder


def test_submit_then_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'board.db'}"
    store = Store(url)
    token, other = create_team(store, "lab"), create_team(store, "rivals")
    at = _app(url, monkeypatch, "submit")
    at.text_input(key="submit-token").input(token)
    at.radio(key="submit-source").set_value("A folder on this machine")
    at.run()
    at.text_input(key="submit-path").input(str(_folder(tmp_path, "mine", "lab")))
    at.multiselect(key="submit-tasks").set_value(["denoise-demo-s25"])
    at.checkbox(key="submit-quick").check()
    at.button(key="submit-go").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "job 1: mine on denoise-demo-s25 (queued)" in at.success[0].value

    at.text_input(key="submit-token").input(other)  # the folder says team lab: refused, as bench submit refuses
    at.button(key="submit-go").click()
    at.run()
    assert "names team 'lab', but the token is team 'rivals'" in at.error[0].value.replace("\\", "")

    from bench.service.submit import submit

    hostile = _folder(tmp_path, "theirs", "rivals")
    (hostile / "submission.yaml").write_text((hostile / "submission.yaml").read_text().replace(
        "architecture: {name: identity}", "architecture: {name: test-hangs}"))  # fmt: skip
    submit(store, other, hostile, ["denoise-demo-s25"], quick=True)
    from bench.limits import Limits

    worker = Worker(store, WorkerSettings(limits=Limits(per_image_s=10), poll_s=0.1, cache=tmp_path / "cache"))
    assert worker.serve(max_jobs=2) == 2

    queue = _app(url, monkeypatch, "queue")
    table = queue.dataframe[0].value
    done = table[table["job"] == 1].iloc[0]
    result_id = next(j["result_id"] for j in list_jobs(store) if j["id"] == 1)
    assert done["status"] == "done" and done["result"] == f"?page=submission&run={result_id}"
    failed = table[table["job"] == 2].iloc[0]
    assert failed["status"] == "failed" and failed["reason"].endswith(" …")  # another team's: first words only
    queue.text_input(key="queue-token").input(other)
    queue.run()
    mine = queue.dataframe[0].value
    assert "within the per-image limit of 10 s" in mine[mine["job"] == 2].iloc[0]["reason"]  # one's own: whole
