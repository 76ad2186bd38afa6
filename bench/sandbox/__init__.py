"""Run a plan's submitted model in a sandboxed child process, under hard limits.

The scorer never loads a submission's model itself: :class:`Sandbox` starts
``python -m bench.sandbox.child`` in a scratch directory, sends it the plan as JSON, and reads its
messages (:mod:`bench.sandbox.protocol`) from a dedicated pipe. The child confines itself before it
reads the submission (address space, file size, no core dumps, math threads, no network, death with
its parent; see :mod:`bench.sandbox.child`). The scorer enforces time: the child must report
within ``per_image_s`` (each image, each latency measurement and conversion reports when it ends)
and finish within ``total_s``; otherwise its process group is killed. Any breach, crash or error
becomes one of :data:`bench.errors.USER_ERRORS` with the limit and the amount named; the caller
(:func:`bench.recording.record_run`) removes the run, so the store is as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import errors
from bench.errors import ScoringError
from bench.limits import Limits, size_text
from bench.plan import Plan
from bench.results import ImageResult, Result
from bench.samples import SampleCrops
from bench.sandbox.protocol import MAX_LINE_BYTES, crops_from_json
from bench.submission import Submission
from bench.text import printable
from bench.validation import Check

Recorder = Callable[[int, ImageResult, SampleCrops | None], None]
Progress = Callable[[str, int], None]
_LOG_TAIL = 600


def _request(plan: Plan) -> dict[str, Any]:
    text = lambda v: str(v) if v is not None else None  # noqa: E731
    return {
        "submission": str(plan.submission.folder.resolve()),
        "task": plan.task.id,
        "devices": list(plan.devices),
        "quality_device": plan.quality_device,
        "latency": plan.latency.model_dump(),
        "data_root": text(plan.data_root and plan.data_root.resolve()),
        "calibration": text(plan.calibration and plan.calibration.resolve()),
        "latency_shape": list(plan.latency_shape),
        "lpips_weights": text(plan.lpips_weights and plan.lpips_weights.resolve()),
        "cache_root": text(plan.cache_root and plan.cache_root.resolve()),
        "limits": plan.limits.record(),
        "samples": plan.samples,
    }


class Sandbox:
    """One sandboxed child for one plan (see the module docstring). Use as a context manager: leaving it
    kills a child that is still running."""

    def __init__(
        self,
        plan: Plan | None,
        submission: Submission | None = None,
        limits: Limits | None = None,
        label: str | None = None,
    ) -> None:
        """For a scoring ``plan``; or, to validate, for a ``submission`` alone under ``limits``; or, for a job
        (:meth:`start_job`), for the model named ``label``."""
        chosen = plan.submission if plan is not None else submission
        assert chosen is not None or label is not None, "give a plan, a submission or a job's label"
        self.plan, self.submission = plan, chosen
        self.label = label if label is not None else repr(chosen.manifest.name)  # type: ignore[union-attr]
        self.limits = plan.limits if plan is not None else (limits or Limits())
        self.what = plan.task.id if plan is not None else "its probe checks" if label is None else "its job"
        self.process: subprocess.Popen[bytes] | None = None
        self.applied: dict[str, Any] = {}
        self.phase = "loading the model"
        self._buffer = b""

    # -- life cycle ----------------------------------------------------------------------------------
    def start_job(self, kind: str, payload: dict[str, Any], read_only: list[str]) -> None:
        """Start the child on one of its jobs (:data:`bench.sandbox.child.JOBS`) with ``payload``; the
        ``read_only`` paths (the model's files) cannot be changed by it."""
        self._spawn({"job": {"kind": kind, "payload": payload, "limits": self.limits.record()}, "read_only": read_only})

    def job_result(self, progress: Progress | None) -> Any:
        """The job's result, reporting its progress messages."""
        while True:
            message = self._next()
            if message.get("kind") == "progress":
                self.phase = str(message.get("label"))
                if progress is not None:
                    progress(self.phase, int(message.get("n", 0)))
            elif message.get("kind") == "job-result":
                return message.get("result")
            else:
                raise ScoringError(f"the sandboxed job sent an unexpected message ({message.get('kind')!r})")

    def start(self, probe: bool, record: bool, done: dict[str, ImageResult], tasks: list[str] | None = None) -> None:
        """Start the child: to score the plan (``probe`` first, ``record`` each image, skip ``done``), or,
        given ``tasks``, to run the probe checks of the submission on each of them."""
        assert self.submission is not None
        folder = str(self.submission.folder.resolve())
        checking = {"submission": folder, "tasks": tasks, "limits": self.limits.record()} if tasks is not None else None
        request: dict[str, Any] = {
            "sha256": self.submission.sha256, "probe": probe, "record": record, "read_only": [folder],
            "done": {k: v.model_dump(mode="json") for k, v in done.items()},
            "plan": _request(self.plan) if self.plan is not None else None, "validate": checking,
        }  # fmt: skip
        self._spawn(request)

    def _spawn(self, request: dict[str, Any]) -> None:
        """Start the child process, send it ``request`` and wait until it is confined."""
        self._workdir = tempfile.TemporaryDirectory(prefix="bench-sandbox-")
        self._log = Path(self._workdir.name) / "child.log"
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env.update({k: str(self.limits.threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                           "OPENBLAS_NUM_THREADS")})  # fmt: skip
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the same bench, wherever it came from
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.sandbox.child", str(write_fd)], stdin=subprocess.PIPE, stdout=log,
                stderr=log, cwd=self._workdir.name, env=env, pass_fds=(write_fd,), start_new_session=True,
            )  # fmt: skip
        os.close(write_fd)
        self._fd, self._started = read_fd, time.monotonic()
        self._selector = selectors.DefaultSelector()
        self._selector.register(read_fd, selectors.EVENT_READ)
        self._send(request)
        self._expect("confined")

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        if self.process is not None:
            os.close(self._fd)
            self._selector.close()
            self._workdir.cleanup()
            self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    # -- the conversation ----------------------------------------------------------------------------
    def probed(self) -> None:
        """Wait for the probe checks to pass (their failure arrives as an error)."""
        self._expect("probed")

    def stop(self) -> None:
        """Tell a child waiting after its probe that nothing is to be scored."""
        self._send({"stop": True})

    def go(self, done: dict[str, ImageResult]) -> None:
        """Tell a child waiting after its probe to score, skipping the images already ``done``."""
        self._send({"done": {k: v.model_dump(mode="json") for k, v in done.items()}})

    def checks(self) -> list[Check]:
        """The probe checks the child ran (after :meth:`start` with ``tasks``)."""
        message = self._expect("checks")
        return [Check(**c) for c in message["checks"]]

    def result(self, recorder: Recorder | None, progress: Progress | None) -> Result:
        """Read the child's images (handed to ``recorder``) up to its result."""
        while True:
            message = self._next()
            kind = message.get("kind")
            if kind == "image":
                image = ImageResult.model_validate(message["image"])
                self.phase = f"the image after {image.id!r}"
                if recorder is not None:
                    recorder(int(message["position"]), image, crops_from_json(message.get("crops")))
            elif kind == "progress":
                label = str(message.get("label"))
                self.phase = label if label.startswith("latency") else f"the image after {label!r}"
                if progress is not None:
                    progress(label, int(message.get("n", 0)))
            elif kind == "result":
                result = Result.model_validate(message["result"])
                sandbox = {**self.applied, "child_s": round(time.monotonic() - self._started, 3)}
                provenance = result.provenance.model_copy(update={"sandbox": sandbox})
                return result.model_copy(update={"provenance": provenance})
            else:
                raise ScoringError(f"the sandboxed scorer sent an unexpected message ({kind!r})")

    # -- plumbing ------------------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the child is gone: reading its messages says why

    def _expect(self, kind: str) -> dict[str, Any]:
        message = self._next()
        if message.get("kind") == "confined":
            self.applied = dict(message.get("applied", {}))
            if kind == "confined":
                return message
            message = self._next()
        if message.get("kind") != kind:
            raise ScoringError(f"the sandboxed scorer sent {message.get('kind')!r} where {kind!r} was due")
        return message

    def _next(self) -> dict[str, Any]:
        """The next message; errors, time limits and a dying child become user errors."""
        while b"\n" not in self._buffer:
            now = time.monotonic()
            left = self._started + self.limits.total_s - now
            if left <= 0:
                self.kill()
                raise ScoringError(f"submission {self._name} exceeded the whole-run limit of {self.limits.total_s:g} s")
            if not self._selector.select(min(self.limits.per_image_s, left)):
                self.kill()
                if left <= self.limits.per_image_s:  # the whole run's time ran out first
                    raise ScoringError(
                        f"submission {self._name} exceeded the whole-run limit of {self.limits.total_s:g} s "
                        f"during {self.phase}; its process was stopped"
                    )
                limit = "per-image limit" if self.plan is not None else "time limit"
                raise ScoringError(
                    f"submission {self._name} did not finish {self.phase} within the {limit} of "
                    f"{self.limits.per_image_s:g} s; its process was stopped"
                )
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                raise self._death()
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE_BYTES:
                self.kill()
                raise ScoringError(f"submission {self._name}: the sandboxed scorer sent an over-long message")
        raw, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(raw)
        if message.get("kind") == "error":
            raise self._error(str(message.get("type")), str(message.get("message")))
        return message

    @property
    def _name(self) -> str:
        return self.label

    def _error(self, kind: str, message: str) -> Exception:
        """The user error the child reported, as its own class (any other kind: a :class:`ScoringError`)."""
        known = {cls.__name__: cls for cls in errors.USER_ERRORS}
        if kind in known:
            return known[kind](message)
        if kind == "MemoryError":
            limit = size_text(self.limits.memory_bytes)
            return ScoringError(f"submission {self._name} ran out of memory in {self.phase}: over the memory limit "
                                f"of {limit} ({message})")  # fmt: skip
        if kind == "FileSizeLimit":
            limit = size_text(self.limits.file_bytes)
            return ScoringError(f"submission {self._name} wrote a file over the file-size limit of {limit} "
                                f"(--file-limit) in {self.phase} ({message})")  # fmt: skip
        return ScoringError(f"submission {self._name} failed on {self.what}: {kind}: {message}")

    def _death(self) -> Exception:
        """Why the child ended without a result: a signal (a crash, or an allocation refused by the memory
        limit inside a runtime), with the tail of its log."""
        assert self.process is not None
        code = self.process.wait()
        tail = printable(self._log.read_text(errors="replace")[-_LOG_TAIL:], replacement=" ").strip()  # anything
        cause = f"was killed by signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exited with {code}"
        if code == -signal.SIGXFSZ:
            why = f"it wrote a file over the file-size limit of {size_text(self.limits.file_bytes)}"
        elif code >= 0:
            why = "it ended without a result"
        else:
            why = f"a crash, or memory over the limit of {size_text(self.limits.memory_bytes)}"
        return ScoringError(
            f"submission {self._name}: the model's process {cause} during {self.phase} ({why})"
            + (f"; its last output: {tail}" if tail else "")
        )


def run_job(
    kind: str,
    payload: dict[str, Any],
    limits: Limits,
    label: str,
    read_only: list[str],
    progress: Progress | None = None,
) -> Any:
    """Run one job of the sandboxed child (e.g. ``"latency"``: :mod:`bench.runtime.latency_run`) on the model
    named ``label`` (whose files, ``read_only``, it cannot change) under ``limits``; its result, or its
    failure as a user error."""
    with Sandbox(None, limits=limits, label=label) as child:
        child.start_job(kind, payload, read_only)
        return child.job_result(progress)
