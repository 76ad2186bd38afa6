"""The work of ``bench latency``: measure a submission or a model file on devices, optionally beside the
per-layer prediction. It runs inside the sandbox (:func:`bench.sandbox.run_job`), never in the CLI's
process, since the model is a stranger's: the request is plain data, each measurement reports as it
ends (the sandbox's silence limit bounds a hang), and the call is costed first (:mod:`bench.budgets`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.errors import SubmissionError
from bench.limits import Limits

Progress = Callable[[str, int], None]


class LatencyRequest(BaseModel):
    """What to measure: ``target`` (a submission folder or a .onnx / .tflite file), at ``shape`` (NCHW), on
    each of ``devices`` ``repeat`` times under the latency ``settings``; ``task`` sets a submission's scale;
    ``predict`` adds the per-layer table's prediction (``table``: its file, default per device)."""

    target: str
    shape: tuple[int, ...]
    devices: list[str]
    task: str | None = None
    threads: int | None = None
    repeat: int = 1
    settings: dict[str, Any] = {}
    calibration: str | None = None
    predict: bool = False
    table: str | None = None
    limits: dict[str, Any] = {}


def single_task(folder: Path) -> str | None:
    """The one task a submission declares by exact id (no pattern), else None."""
    from bench.submission import load_submission

    tasks = load_submission(folder).manifest.tasks
    return tasks[0] if len(tasks) == 1 and not any(c in tasks[0] for c in "*?[") else None


def measure(request: LatencyRequest, progress: Progress) -> list[dict[str, Any]]:
    """The measurements (and predictions) as JSON-ready dicts, in the order the CLI prints them."""
    from bench.budgets import guard_for
    from bench.runtime.calibration import calibration_images
    from bench.runtime.devices import get_device
    from bench.runtime.errors import ConversionError
    from bench.runtime.latency import measure_on
    from bench.runtime.protocol import LatencySettings
    from bench.submission import load_submission
    from bench.tasks import get_task

    target, shape, limits = Path(request.target), tuple(request.shape), Limits(**request.limits)
    model: Any
    io = None
    if target.is_file():
        model, ghost, name = target, None, target.name
    else:
        if request.task is None:
            raise SubmissionError("give --task ID: it sets the scale and the latency input shape")
        submission = load_submission(target)
        values = {"scale": get_task(request.task).scale}
        model, name = submission.model(values), submission.manifest.name
        ghost = submission.ghost(values) if not isinstance(model, Path) else None
        io = submission.manifest.contract
    progress(f"costing one call at {'x'.join(map(str, shape))}", 0)
    guard_for(name, model, ghost, limits, io).check(shape)
    settings = LatencySettings(**request.settings)
    results: list[dict[str, Any]] = []
    for device_id in request.devices:
        device = get_device(device_id, threads=request.threads)
        if request.calibration:
            device = device.with_calibration(calibration_images(Path(request.calibration), shape))
        for repeat in range(request.repeat):
            progress(f"latency on {device.id} ({repeat + 1}/{request.repeat})", len(results))
            try:
                result, description = measure_on(device, model, shape, settings, io)
            except ConversionError as exc:  # this device cannot take the format: said, the others go on
                results.append({"device": device.id, "not_measured": str(exc)})
                break
            results.append({"latency": result.model_dump(mode="json"), "backend": description})
    if request.predict:
        if isinstance(model, Path):
            raise SubmissionError("--predict needs a submission (a module to decompose into layers), not a model file")
        for device_id in request.devices:
            results.append(_predict(model, shape, get_device(device_id, threads=request.threads), settings,
                                    request.table, progress))  # fmt: skip
    return results


def _predict(model: Any, shape: tuple[int, ...], device: Any, settings: Any, table_file: str | None,
             progress: Progress) -> dict[str, Any]:  # fmt: skip
    """Predicted (per-layer table) next to measured latency; predictions are never stored as measurements."""
    from bench.runtime.latency import measure_on
    from bench.runtime.layer_table import LatencyTable, decompose, default_table_path, fill, predict

    path = Path(table_file) if table_file else default_table_path(device.id)
    table = LatencyTable.load(path) if path.exists() else LatencyTable(device=device.id)
    if table.device != device.id:
        raise SubmissionError(f"table {path} was measured on {table.device}, not {device.id}")
    units, unmodelled = decompose(model, shape)
    fill(table, units, device, settings, progress=lambda key, n, total: progress(f"latency table {n}/{total}", n))
    table.save(path)
    predicted = predict(table, units, unmodelled)
    measured, _ = measure_on(device, model, shape, settings)
    error = (predicted.total_ms - measured.median_ms) / measured.median_ms
    return {"device": device.id, "predicted_ms": predicted.total_ms, "measured_median_ms": measured.median_ms,
            "error": error, "kind": "predicted", "per_unit": predicted.per_unit, "unmodelled": unmodelled,
            "units": len(units), "table": str(path)}  # fmt: skip
