"""The sandboxed child: ``python -m bench.sandbox.child FD`` scores one plan and reports on pipe ``FD``.

Before it reads anything of the submission it confines itself: address space and file-size limits
(``setrlimit``), no core dumps, math-library threads, a network namespace of its own with no
interface up (no network at all; where the kernel refuses, the result's provenance says so), and
death with its parent (``PR_SET_PDEATHSIG``). Then it rebuilds the plan from the request, checks
that the submission's hash is the one the scorer planned with, loads the model, optionally probes
it, and runs :func:`bench.scoring.evaluate`, sending each image's scores and crops as they come.
See :mod:`bench.sandbox.protocol` for the messages.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG = 1


def confine(limits: dict[str, Any], read_only: list[str]) -> dict[str, Any]:
    """Apply the limits to this process; returns what was applied (for the provenance). A limit the scorer
    itself runs under already (a lower hard limit) is kept: a process can lower its limits, never raise them.
    The paths in ``read_only`` (the submission folder, a model file) become read-only for this process
    alone: a mount namespace of its own where each is bound onto itself read-only."""
    applied = dict(limits)
    for kind, key in ((resource.RLIMIT_AS, "memory_bytes"), (resource.RLIMIT_FSIZE, "file_bytes")):
        hard = resource.getrlimit(kind)[1]
        applied[key] = limits[key] if hard == resource.RLIM_INFINITY else min(limits[key], hard)
        resource.setrlimit(kind, (applied[key], applied[key]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    isolated = libc.unshare(_CLONE_NEWNET) == 0
    applied["network"] = "none (own namespace)" if isolated else "not isolated (unshare refused)"
    applied["submission_files"] = _read_only(libc, read_only)
    return applied


def _read_only(libc: Any, paths: list[str]) -> str:
    """Bind each of ``paths`` onto itself read-only in a mount namespace of this process; says what was done."""
    if not paths:
        return "nothing to protect"
    if libc.unshare(_CLONE_NEWNS) != 0:
        return "writable (no mount namespace: unshare refused)"
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:  # nothing propagates back out
        return "writable (mount propagation could not be made private)"
    for path in paths:
        target = os.fsencode(path)
        if (
            libc.mount(target, target, None, _MS_BIND | _MS_REC, None) != 0
            or libc.mount(None, target, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY, None) != 0
        ):
            return f"writable (read-only bind mount refused: errno {ctypes.get_errno()})"
    return "read-only (bind mount in its own namespace)"


class PipeCheckpoint:
    """The :class:`~bench.scoring.Checkpoint` of the child: each image goes down the pipe."""

    def __init__(self, out: BinaryIO, done: dict[str, Any]) -> None:
        from bench.results import ImageResult

        self.out = out
        self.done = {key: ImageResult.model_validate(value) for key, value in done.items()}

    def record(self, position: int, image: Any, sample: Any = None) -> None:
        from bench.sandbox.protocol import crops_to_json, line

        self.out.write(line("image", position=position, image=image.model_dump(mode="json"),
                            crops=crops_to_json(sample)))  # fmt: skip
        self.done[image.id] = image


def run(request: dict[str, Any], out: BinaryIO) -> None:
    """Score the request's plan, reporting on ``out`` (see the module docstring)."""
    from bench.errors import SubmissionError
    from bench.limits import Limits
    from bench.plan import make_plan
    from bench.runtime.protocol import LatencySettings
    from bench.sandbox.protocol import line
    from bench.scoring import evaluate
    from bench.submission import load_submission
    from bench.tasks import get_task
    from bench.validation import probe

    s = request["plan"]
    submission = load_submission(s["submission"])
    if submission.sha256 != request["sha256"]:
        raise SubmissionError(f"submission {submission.folder} changed while it was being scored; score it again")
    path = lambda v: Path(v) if v else None  # noqa: E731
    plan = make_plan(
        submission, get_task(s["task"]), s["devices"], s["quality_device"], LatencySettings(**s["latency"]),
        path(s["data_root"]), path(s["calibration"]), s["latency_shape"], path(s["lpips_weights"]),
        path(s["cache_root"]), Limits(**s["limits"]), s["samples"],
    )  # fmt: skip
    model = submission.model({"scale": plan.task.scale})
    done = request.get("done", {})
    if request.get("probe"):
        probe(submission, plan.task, model, plan.limits)
        out.write(line("probed"))
        control = json.loads(sys.stdin.readline() or "{}")
        if control.get("stop"):
            return
        done = control.get("done", {})

    def progress(label: str, n: int) -> None:
        out.write(line("progress", label=label, n=n))

    checkpoint = PipeCheckpoint(out, done) if request.get("record") else None
    result = evaluate(plan, checkpoint=checkpoint, progress=progress, model=model)
    out.write(line("result", result=result.model_dump(mode="json")))


def validate(request: dict[str, Any], out: BinaryIO) -> None:
    """Run the probe checks of the request's submission on each of its tasks, and send them."""
    from dataclasses import asdict

    from bench.errors import SubmissionError
    from bench.limits import Limits
    from bench.sandbox.protocol import line
    from bench.submission import load_submission
    from bench.tasks import get_task
    from bench.validation import check_task

    submission = load_submission(request["validate"]["submission"])
    if submission.sha256 != request["sha256"]:
        raise SubmissionError(f"submission {submission.folder} changed while it was being checked; check it again")
    limits = Limits(**request["validate"]["limits"])
    checks = [
        asdict(c) for t in request["validate"]["tasks"] for c in check_task(submission, get_task(t), None, limits)
    ]
    out.write(line("checks", checks=checks))


def latency_job(payload: dict[str, Any], out: BinaryIO) -> Any:
    """``bench latency``'s measurements (:mod:`bench.runtime.latency_run`)."""
    from bench.runtime.latency_run import LatencyRequest, measure
    from bench.sandbox.protocol import line

    def progress(label: str, n: int) -> None:
        out.write(line("progress", label=label, n=n))

    return measure(LatencyRequest.model_validate(payload), progress)


def io_dtypes_job(payload: dict[str, Any], out: BinaryIO) -> Any:
    """The input and output dtypes of each TFLite file in ``payload["files"]`` (a challenge rule reads them)."""
    from ai_edge_litert.interpreter import Interpreter

    found = []
    for path in payload["files"]:
        interpreter = Interpreter(model_path=str(path))
        found.append(
            sorted({d["dtype"].__name__ for d in interpreter.get_input_details() + interpreter.get_output_details()})
        )
    return found


#: The jobs the child runs besides scoring and validation: kind -> function(payload, out) -> JSON result.
JOBS = {"latency": latency_job, "io-dtypes": io_dtypes_job}


def job(request: dict[str, Any], out: BinaryIO) -> None:
    from bench.sandbox.protocol import line

    out.write(line("job-result", result=JOBS[request["job"]["kind"]](request["job"]["payload"], out)))


def main() -> int:
    out = os.fdopen(int(sys.argv[1]), "wb", buffering=0)
    request = json.loads(sys.stdin.readline())
    section = next(request[k] for k in ("plan", "validate", "job") if request.get(k))
    applied = confine(section["limits"], list(request.get("read_only", [])))
    from bench.errors import USER_ERRORS
    from bench.sandbox.protocol import line

    out.write(line("confined", applied=applied))
    try:
        if request.get("validate"):
            validate(request, out)
        elif request.get("job"):
            job(request, out)
        else:
            run(request, out)
    except USER_ERRORS as exc:
        out.write(line("error", type=type(exc).__name__, message=str(exc)))
    except MemoryError as exc:
        out.write(line("error", type="MemoryError", message=f"out of memory ({exc or 'allocation refused'})"))
    except Exception as exc:  # any failure of the model or its runtime: reported, never a traceback
        text = str(exc)
        refused = any(k in text.lower() for k in ("can't allocate memory", "bad_alloc", "out of memory"))
        too_large = isinstance(exc, OSError) and exc.errno == errno.EFBIG  # past RLIMIT_FSIZE (SIGXFSZ is ignored)
        kind = "MemoryError" if refused else "FileSizeLimit" if too_large else type(exc).__name__
        out.write(line("error", type=kind, message=text[:2000]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
