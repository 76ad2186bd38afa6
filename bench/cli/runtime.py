"""``bench devices`` and ``bench latency``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.cli.common import fail, latency_settings, out, write_output
from bench.results import LatencyResult


def cmd_devices(args: argparse.Namespace) -> int:
    from bench.runtime.devices import DEVICES, get_device

    table = Table(title="Devices", title_justify="left")
    for column in ("id", "backend", "threads", "available here", "description"):
        table.add_column(column)
    for device in DEVICES.values():
        ok, detail = device.available()
        status = f"[green]yes[/] ({escape(detail)})" if ok else f"[red]no[/]: {escape(detail)}"
        table.add_row(device.id, device.backend, str(device.settings.threads), status, device.description)
    out.print(table)
    _, android = get_device("android:any").available()
    out.print(escape(f"android:<serial>[/cpu|gpu|nnapi]: {android}"), highlight=False, soft_wrap=True)
    return 0


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must be N,C,H,W integers, got {text!r}") from None
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"shape must be four positive integers N,C,H,W, got {text!r}")
    return shape


def _model_and_shape(args: argparse.Namespace) -> tuple[Any, tuple[int, ...]]:
    from bench.submission import load_submission
    from bench.tasks import get_task

    target = Path(args.model)
    task = get_task(args.task) if args.task else None
    shape = args.shape or (task.latency.input_shape if task else None)
    if target.is_file():
        if shape is None:
            raise argparse.ArgumentTypeError("give --shape N,C,H,W (or --task) for a model file")
        return target, shape
    submission = load_submission(target)
    if task is None:
        raise argparse.ArgumentTypeError("give --task ID: it sets the scale and the latency input shape")
    return submission.model({"scale": task.scale}), shape or task.latency.input_shape


def cmd_latency(args: argparse.Namespace) -> int:
    from bench.runtime.calibration import calibration_images
    from bench.runtime.devices import get_device
    from bench.runtime.latency import measure_on

    try:
        model, shape = _model_and_shape(args)
    except argparse.ArgumentTypeError as exc:
        return fail(str(exc))
    settings = latency_settings(args.quick)
    results: list[dict[str, Any]] = []
    table = Table(title=f"Measured latency, input {'x'.join(map(str, shape))}", title_justify="left")
    for column in ("device", "backend", "threads", "median ms", "p90 ms", "mean ms", "cv", "runs", "stable"):
        table.add_column(column)
    for device_id in args.device:
        device = get_device(device_id, threads=args.threads)
        if args.calibration:
            device = device.with_calibration(calibration_images(Path(args.calibration), shape))
        for repeat in range(args.repeat):
            with out.status(f"measuring on {device.id} ({repeat + 1}/{args.repeat})"):
                result, description = measure_on(device, model, shape, settings)
            results.append({"latency": result.model_dump(mode="json"), "backend": description})
            table.add_row(*_row(result))
    out.print(table)
    if args.predict:
        if isinstance(model, Path):
            return fail("--predict needs a submission (a module to decompose into layers), not a model file")
        for device_id in args.device:
            try:
                results.append(_predict(model, shape, get_device(device_id, threads=args.threads), settings, args))
            except argparse.ArgumentTypeError as exc:
                return fail(str(exc))
    if args.json:
        write_output(args.json, json.dumps(results, indent=2))
    return 0


def _predict(
    model: Any, shape: tuple[int, ...], device: Any, settings: Any, args: argparse.Namespace
) -> dict[str, Any]:
    """Predicted (per-layer table) next to measured latency; predictions are never stored as measurements."""
    from bench.runtime.latency import measure_on
    from bench.runtime.layer_table import LatencyTable, decompose, default_table_path, fill, predict

    path = Path(args.table) if args.table else default_table_path(device.id)
    table = LatencyTable.load(path) if path.exists() else LatencyTable(device=device.id)
    if table.device != device.id:
        raise argparse.ArgumentTypeError(f"table {path} was measured on {table.device}, not {device.id}")
    units, unmodelled = decompose(model, shape)
    with out.status(f"filling the latency table for {device.id}") as status:
        fill(table, units, device, settings, progress=lambda key, n, total: status.update(f"table {n}/{total}: {key}"))
    table.save(path)
    predicted = predict(table, units, unmodelled)
    measured, _ = measure_on(device, model, shape, settings)
    error = (predicted.total_ms - measured.median_ms) / measured.median_ms
    out.print(
        f"{device.id}: predicted {predicted.total_ms:.3f} ms (per-layer table, {len(units)} units) vs measured "
        f"median {measured.median_ms:.3f} ms: error {error:+.1%}"
        + (f"; not modelled: {', '.join(unmodelled)}" if unmodelled else ""),
        highlight=False,
    )
    out.print(f"  table: {escape(str(path))}", highlight=False)
    return {"device": device.id, "predicted_ms": predicted.total_ms, "measured_median_ms": measured.median_ms,
            "error": error, "kind": "predicted", "per_unit": predicted.per_unit, "unmodelled": unmodelled}  # fmt: skip


def _row(r: LatencyResult) -> list[str]:
    stable = {True: "yes", False: "[red]NO[/]", None: "n/a"}[r.stable]
    p90 = f"{r.p90_ms:.3f}" if r.p90_ms is not None else "-"
    return [r.device, r.backend, str(r.threads), f"{r.median_ms:.3f}", p90, f"{r.mean_ms:.3f}", f"{r.cv:.3f}",
            str(r.runs), stable]  # fmt: skip


def add_parser(sub: Any) -> None:
    devices = sub.add_parser("devices", help="devices this machine can measure on")
    devices.set_defaults(func=cmd_devices)
    latency = sub.add_parser("latency", help="measure a submission or model file on devices")
    latency.add_argument("model", help="submission folder, or a .onnx / .tflite file")
    latency.add_argument("--device", action="append", required=True, help="device id (repeatable)")
    latency.add_argument("--task", help="task whose scale and latency input shape to use")
    latency.add_argument("--shape", type=parse_shape, help="input shape N,C,H,W (overrides the task's)")
    latency.add_argument("--threads", type=int, help="CPU threads (overrides the device profile)")
    latency.add_argument("--repeat", type=int, default=1, help="measure this many times (repeatability)")
    latency.add_argument("--quick", action="store_true", help="short protocol (one block of 10 runs)")
    latency.add_argument("--json", help="write the measurements and backend descriptions to this file")
    latency.add_argument("--predict", action="store_true", help="also predict from the per-layer latency table")
    latency.add_argument("--calibration", help="folder of training-side images for int8 calibration")
    latency.add_argument("--table", help="latency table file (default ~/.cache/bench/latency-tables/DEVICE.json)")
    latency.set_defaults(func=cmd_latency)
