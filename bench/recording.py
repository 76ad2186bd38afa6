"""Score a submission straight into the store: :func:`evaluate` through a run handle.

Each image's scores and the first images' sample crops are written as they are computed, and a
run the store already has complete (same submission hash, task version, devices and settings) is
not run again. ``bench score`` does the same with resume and restart options on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.results import Result
from bench.runtime.protocol import LatencySettings
from bench.scoring import evaluate, plan_key, result_info
from bench.store import Store
from bench.submission import Submission
from bench.tasks import Task


def score_into(
    store: Store,
    submission: Submission,
    task: Task,
    devices: Sequence[str] | None,
    latency: LatencySettings,
    **options: Any,
) -> tuple[Result, int]:
    """(result, run id) of ``submission`` on ``task``: the stored one when complete, else scored now.

    ``options`` go to :func:`~bench.scoring.evaluate` (``data_root``, ``latency_shape``, ...). A run
    that fails leaves nothing in the store.
    """
    key = plan_key(submission, task, devices, options.get("quality_device"), latency, options.get("calibration"),
                   options.get("latency_shape"))  # fmt: skip
    handle = store.run(key, result_info(submission), task.id, task.version, resume=True)
    if handle.complete_id is not None:
        detail = store.run_detail(handle.complete_id)
        assert detail is not None
        return Result.model_validate(detail["result"]), handle.complete_id
    try:
        result = evaluate(submission, task, devices=devices, latency=latency, checkpoint=handle, **options)
    except BaseException:
        handle.discard()
        raise
    return result, handle.finish(result)
