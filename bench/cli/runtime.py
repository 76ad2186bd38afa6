"""``bench devices`` and ``bench latency``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from bench.cli.common import DB_HELP, check_output, device_note, fail, latency_settings, out, size_arg, write_output
from bench.limits import Limits
from bench.results import LatencyResult

if TYPE_CHECKING:
    from bench.runtime.latency_run import LatencyRequest


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


def _request(args: argparse.Namespace) -> LatencyRequest:
    """The latency job of the command line: a model file needs a shape; a submission a task (its manifest's,
    when it declares exactly one), which sets the scale and the default shape."""
    from bench.runtime.latency_run import LatencyRequest, single_task
    from bench.tasks import get_task

    target = Path(args.model)
    task_id = args.task or (None if target.is_file() else single_task(target))
    task = get_task(task_id) if task_id else None
    shape = args.shape or (task.latency.input_shape if task else None)
    if shape is None:
        need = "--shape N,C,H,W (or --task) for a model file" if target.is_file() else "--task ID (the submission "
        raise argparse.ArgumentTypeError("give " + need + ("" if target.is_file() else "declares several tasks)"))
    return LatencyRequest(
        target=str(target.resolve()), shape=tuple(shape), devices=args.device, task=task_id, threads=args.threads,
        repeat=args.repeat, settings=latency_settings(args.quick).model_dump(), predict=args.predict,
        calibration=str(Path(args.calibration).resolve()) if args.calibration else None, table=args.table,
        limits=Limits(per_image_s=args.time_limit, memory_bytes=args.memory_limit).record(),
    )  # fmt: skip


def cmd_latency(args: argparse.Namespace) -> int:
    from bench.sandbox import run_job

    check_output(args.json)
    try:
        request = _request(args)
    except argparse.ArgumentTypeError as exc:
        return fail(str(exc))
    limits, label = Limits(**request.limits), Path(args.model).name
    with out.status("measuring") as status:
        results = run_job("latency", request.model_dump(mode="json"), limits, label, [request.target],
                          lambda text, _n: status.update(escape(text)))  # fmt: skip
    table = Table(title=f"Measured latency, input {'x'.join(map(str, request.shape))}", title_justify="left")
    for column in ("device", "backend", "threads", "median ms", "p90 ms", "mean ms", "cv", "runs", "latency"):
        table.add_column(column)
    for entry in results:
        if "latency" in entry:
            table.add_row(*_row(LatencyResult.model_validate(entry["latency"])))
    out.print(table)
    for entry in results:
        device = entry["latency"]["device"] if "latency" in entry else entry.get("device", "")
        if line := device_note(str(device), entry.get("backend") or entry):
            out.print(line, highlight=False, markup=False)
        if entry.get("kind") == "predicted":
            unmodelled, units = entry["unmodelled"], entry["units"]
            out.print(
                f"{entry['device']}: predicted {entry['predicted_ms']:.3f} ms (per-layer table, {units} units) "
                f"vs measured median {entry['measured_median_ms']:.3f} ms: error {entry['error']:+.1%}"
                + (f"; not modelled: {', '.join(unmodelled)}" if unmodelled else ""),
                highlight=False, markup=False,
            )  # fmt: skip
            out.print(f"  table: {entry['table']}", highlight=False, markup=False)
    if args.json:
        write_output(args.json, json.dumps(results, indent=2))
    if args.db:
        return _store(args, request, results)
    return 0


def _store(args: argparse.Namespace, request: LatencyRequest, results: list[dict[str, Any]]) -> int:
    """Join the measurements to the submission's stored run of the task (``--db``)."""
    from bench.store import Store
    from bench.store.url import describe_url
    from bench.submission import load_submission

    if Path(request.target).is_file() or request.task is None:
        return fail("--db stores the latencies of a submission on a task: give a submission folder (and --task "
                    "when its manifest declares several)")  # fmt: skip
    measured = [(LatencyResult.model_validate(e["latency"]), e["backend"]) for e in results if "latency" in e]
    if not measured:
        return fail("no device measured the submission; nothing was stored")
    store = Store(args.db)
    run_id = store.add_latencies(load_submission(request.target).sha256, request.task, measured)
    out.print(f"stored {len(measured)} latenc{'y' if len(measured) == 1 else 'ies'} with run {run_id} in "
              f"{describe_url(store.url)}", highlight=False, markup=False)  # fmt: skip
    return 0


def _row(r: LatencyResult) -> list[str]:
    from bench.runtime.protocol import kind_text

    stable = kind_text(r.stable, r.spread).replace("unstable", "[red]unstable[/]")
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
    latency.add_argument("--db", help="store the latencies with the submission's scored run of the task; " + DB_HELP)
    latency.add_argument("--predict", action="store_true", help="also predict from the per-layer latency table")
    latency.add_argument("--calibration", help="folder of training-side images for int8 calibration")
    latency.add_argument("--table", help="latency table file (default ~/.cache/bench/latency-tables/DEVICE.json)")
    latency.add_argument(
        "--time-limit", type=float, default=Limits.per_image_s, metavar="S",
        help="seconds the model's process may go without finishing a measurement (default %(default)s)",
    )  # fmt: skip
    latency.add_argument(
        "--memory-limit", type=size_arg, default=Limits.memory_bytes, metavar="SIZE",
        help="address space of the sandboxed model process, e.g. 8G (default 16G)",
    )  # fmt: skip
    latency.set_defaults(func=cmd_latency)
