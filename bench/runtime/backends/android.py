"""Android phones over adb: TFLite ``benchmark_model`` times a ``.tflite`` on the phone (device ids
``android:<serial>[/cpu|gpu|nnapi]``); the command line and its parsing: :mod:`bench.runtime.benchmark_model`.

``RunSettings.options``: ``serial`` (required), ``delegate`` (default ``gpu``), ``benchmark_binary``
(default ``/data/local/tmp/benchmark_model``; it must be there, executable, built for the phone's ABI),
``remote_dir`` (default ``/data/local/tmp/bench``; models go to ``<remote_dir>/<sha256>.tflite`` and are
not pushed again), ``benchmark_flags`` (extra flags, e.g. ``["--gpu_precision_loss_allowed=false"]``),
``init_timeout_s`` (time allowed for initialisation, default 300 s). Only timing runs on the phone.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from bench.errors import BackendUnavailable, ConversionError
from bench.runtime.backends.base import Backend, LoadedModel, RunSettings, register_backend
from bench.runtime.benchmark_model import (
    DELEGATE_FLAGS,
    BenchmarkModelError,
    BenchmarkModelResult,
    benchmark_command,
    parse_benchmark_output,
    to_latency_stats,
)
from bench.runtime.protocol import LatencySettings, LatencyStats

ADB_TIMEOUT_S = 30.0
PUSH_TIMEOUT_S = 300.0
DEFAULT_BINARY = "/data/local/tmp/benchmark_model"
DEFAULT_REMOTE_DIR = "/data/local/tmp/bench"
PROPS = {"model": "ro.product.model", "platform": "ro.board.platform", "sdk": "ro.build.version.sdk"}
STATE_HINTS = {
    "unauthorized": "has not authorised this computer: unlock it and accept the 'Allow USB debugging' prompt",
    "offline": "is offline: reconnect the cable or run `adb reconnect`",
}


def parse_devices(text: str) -> dict[str, str]:
    """``adb devices`` output -> {serial: state} (``device``, ``unauthorized``, ``offline``, ...)."""
    found: dict[str, str] = {}
    for line in text.replace("\r", "").splitlines():
        if not line.strip() or line.startswith(("*", "List of devices", "adb ")):
            continue
        serial, _, state = line.strip().partition("\t")
        if not state:
            serial, _, state = line.strip().partition(" ")
        found[serial] = state.strip() or "unknown"
    return found


class Adb:
    """``adb`` run as real subprocesses with time limits; every failure is a :class:`BackendUnavailable`."""

    def __init__(self, serial: str | None = None, executable: str = "adb", timeout_s: float = ADB_TIMEOUT_S) -> None:
        self.serial = serial
        self.executable = executable
        self.timeout_s = timeout_s

    def argv(self, *args: str) -> list[str]:
        """The command line: ``adb [-s SERIAL] ARGS...``."""
        return [self.executable, *(("-s", self.serial) if self.serial else ()), *args]

    def call(self, *args: str, timeout_s: float | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``adb ... ARGS`` (stdout and stderr merged, in order); ``check``: a non-zero status raises."""
        argv = self.argv(*args)
        limit = self.timeout_s if timeout_s is None else timeout_s
        try:
            proc = subprocess.run(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=limit, check=False
            )
        except FileNotFoundError as exc:
            raise BackendUnavailable(f"adb executable {self.executable!r} not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(f"`{shlex.join(argv)}` did not finish within {limit:g} s") from exc
        if check and proc.returncode != 0:
            tail = " | ".join(proc.stdout.strip().splitlines()[-3:]) or "no output"
            raise BackendUnavailable(f"`{shlex.join(argv)}` failed (exit status {proc.returncode}): {tail}")
        return proc

    def devices(self) -> dict[str, str]:
        """Connected phones, {serial: state}, from ``adb devices`` (never with ``-s``)."""
        return parse_devices(Adb(None, self.executable, self.timeout_s).call("devices").stdout)

    def shell(
        self, *command: str, timeout_s: float | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``adb -s SERIAL shell COMMAND...`` (each word shell-quoted for the phone's shell)."""
        return self.call("shell", *(shlex.quote(word) for word in command), timeout_s=timeout_s, check=check)

    def push(self, local: Path, remote: str) -> None:
        self.call("push", str(local), remote, timeout_s=PUSH_TIMEOUT_S)

    def getprop(self, name: str) -> str:
        return self.shell("getprop", name).stdout.strip()

    def exists(self, remote: str) -> bool:
        # old adb (no shell protocol) always exits 0, hence the look at the text too
        proc = self.shell("ls", remote, check=False)
        return proc.returncode == 0 and "No such file" not in proc.stdout and "not found" not in proc.stdout

    def sha256(self, remote: str) -> str | None:
        """The file's sha256 on the phone, or None (no such file, or no ``sha256sum`` there)."""
        proc = self.shell("sha256sum", remote, check=False)
        words = proc.stdout.split()
        digest = words[0].lower() if proc.returncode == 0 and words else ""
        return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


def tflite_input_shape(path: Path) -> tuple[int, ...] | None:
    """The model's first input shape, read with the host's TFLite (None: no ai-edge-litert here, or unreadable)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return tuple(int(d) for d in Interpreter(model_path=str(path)).get_input_details()[0]["shape"])
    except Exception:  # the phone will report what is wrong with the file
        return None


def connected() -> tuple[str, dict[str, str]]:
    """(the adb on PATH, {serial: state} of every phone it lists); raises :class:`BackendUnavailable`."""
    executable = shutil.which("adb")
    if executable is None:
        raise BackendUnavailable("adb is not on PATH (install Android SDK platform-tools)")
    return executable, Adb(None, executable).devices()


def device_status(serial: str) -> tuple[bool, str]:
    """(phone ``serial`` is ready for adb?, why not / its state)."""
    try:
        executable, devices = connected()
    except BackendUnavailable as exc:
        return False, str(exc)
    listed = ", ".join(f"{s} ({state})" for s, state in devices.items()) or "none"
    state = devices.get(serial)
    if state is None:
        return False, f"phone {serial!r} is not connected (adb devices lists: {listed})"
    if state != "device":
        return False, not_ready(serial, state)
    return True, f"phone {serial!r} ready ({executable})"


def not_ready(serial: str, state: str) -> str:
    return f"phone {serial!r} " + STATE_HINTS.get(state, f"is in state {state!r}, not 'device'")


class AndroidModel(LoadedModel):
    backend = "android"

    def __init__(self, settings: RunSettings, adb: Adb, module: nn.Module | None = None, file: Path | None = None):
        self.settings = settings
        self.adb = adb
        self.module, self.file = module, file
        options = settings.options
        self.delegate = str(options.get("delegate", "gpu"))
        self.binary = str(options.get("benchmark_binary", DEFAULT_BINARY))
        self.remote_dir = str(options.get("remote_dir", DEFAULT_REMOTE_DIR)).rstrip("/")
        flags = options.get("benchmark_flags", ())
        self.extra_flags: Sequence[str] = (flags,) if isinstance(flags, str) else tuple(flags)
        self.init_timeout_s = float(options.get("init_timeout_s", 300.0))
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._converted: dict[tuple[int, ...], tuple[Path, dict[str, Any]]] = {}
        self._binary_checked = False
        self._props: dict[str, str] | None = None
        self.last_result: BenchmarkModelResult | None = None
        self.last_command: list[str] | None = None
        self.last_shape: tuple[int, ...] | None = None
        self.file_shape = None if file is None else tflite_input_shape(file)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Not supported: benchmark_model only times (random inputs, outputs discarded), so quality is
        scored on the host, on the same ``.tflite`` with the TFLite backend or on the source module."""
        raise BackendUnavailable("quality is computed on the host; benchmark_model only times")

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        raise BackendUnavailable("timing runs on the phone with benchmark_model: use measure()")

    def model_file(self, shape: tuple[int, ...]) -> Path:
        """The ``.tflite`` to time: the loaded file (its input must be ``shape``, NCHW or NHWC, where the
        host can read it), or the module converted here at NCHW ``shape``."""
        if self.file is not None:
            own, nhwc = self.file_shape, (shape[0], *shape[2:], shape[1]) if len(shape) == 4 else shape
            if own is not None and own not in (shape, nhwc):
                raise ConversionError(f"{self.file.name} takes input {own}; it cannot be timed at NCHW {shape}")
            return self.file
        if shape not in self._converted:
            from bench.runtime.convert import to_tflite

            assert self.module is not None, "an AndroidModel holds a module or a file"
            if self._workdir is None:
                self._workdir = tempfile.TemporaryDirectory(prefix="bench-android-")
            path = Path(self._workdir.name) / f"model_{'x'.join(map(str, shape))}.tflite"
            report = to_tflite(self.module, shape, path, precision=self.settings.precision)
            self._converted[shape] = path, report.as_dict()
        return self._converted[shape][0]

    def push_model(self, local: Path) -> str:
        """``local`` at ``<remote_dir>/<sha256>.tflite`` on the phone (pushed unless already there)."""
        digest = hashlib.sha256(local.read_bytes()).hexdigest()
        remote = f"{self.remote_dir}/{digest}.tflite"
        if self.adb.sha256(remote) == digest:
            return remote
        self.adb.push(local, remote)
        pushed = self.adb.sha256(remote)
        if pushed is not None and pushed != digest:
            raise BackendUnavailable(f"{remote} on {self.adb.serial} has sha256 {pushed} after the push, not {digest}")
        return remote

    def check_binary(self) -> None:
        if not self._binary_checked and not self.adb.exists(self.binary):
            s = self.adb.serial
            raise BackendUnavailable(
                f"benchmark_model not found on {s} at {self.binary}: get TFLite's prebuilt benchmark_model for "
                f"the phone's ABI, then `adb -s {s} push benchmark_model {self.binary}` and "
                f"`adb -s {s} shell chmod +x {self.binary}` (or set the benchmark_binary option)"
            )
        self._binary_checked = True

    def measure(self, shape: tuple[int, ...], settings: LatencySettings) -> LatencyStats:
        """Push the model, run benchmark_model with the flags of :func:`benchmark_command`, parse its log.

        The time limit is 2 x ``max_s`` (benchmark_model caps warm-up and timed phases separately)
        plus ``warmup_min_s`` plus ``init_timeout_s`` (GPU/NNAPI compilation can take long)."""
        self.last_shape = shape
        remote = self.push_model(self.model_file(shape))
        self.check_binary()
        argv = benchmark_command(remote, self.delegate, self.settings.threads, settings, self.binary, self.extra_flags)
        self.last_command = argv
        limit = 2 * settings.max_s + settings.warmup_min_s + self.init_timeout_s
        proc = self.adb.shell(*argv, timeout_s=limit, check=False)
        where = f"on {self.adb.serial} ({self.delegate})"
        try:
            result = parse_benchmark_output(proc.stdout)
        except BenchmarkModelError as exc:
            raise BenchmarkModelError(f"{where}: {exc} (exit status {proc.returncode})") from None
        if proc.returncode != 0:
            raise BenchmarkModelError(f"{where}: benchmark_model printed timings but exited with {proc.returncode}")
        self.last_result = result
        return to_latency_stats(result)

    def properties(self) -> dict[str, str]:
        if self._props is None:
            try:
                self._props = {key: self.adb.getprop(prop) for key, prop in PROPS.items()}
            except BackendUnavailable as exc:
                return {key: f"unknown ({exc})" for key in PROPS}
        return self._props

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "serial": self.adb.serial,
            **self.properties(),
            "delegate": self.delegate,
            "threads": self.settings.threads,
            "precision": self.settings.precision,
            "benchmark_binary": self.binary,
            "requested_shape": self.last_shape,
            "timing_shape": "as requested"
            if self.file is None
            else f"the file's input, {self.file_shape or 'unchecked'}",
            "p90": "not reported by benchmark_model",
            "stability": "not assessed: one benchmark_model run is one block",
        }
        if self.last_shape in self._converted:
            info["conversion"] = self._converted[self.last_shape][1]
        if self.last_command is not None:
            info["command"] = shlex.join(self.last_command)
        if (r := self.last_result) is not None:
            info["median_source"] = "mean (no percentiles printed)" if r.median_is_mean else "benchmark_model median"
            info["init_ms"] = r.init_us / 1e3
            info["first_inference_ms"] = None if r.first_us is None else r.first_us / 1e3
            info["warmup_avg_ms"] = r.warmup_avg_us / 1e3
            info["delegations"] = [f"{d.delegate}: {d.nodes}/{d.total or '?'} nodes" for d in r.delegations]
            info["delegate_applied"] = bool(r.delegations)
            unnamed = sum((d.total or d.nodes) - d.nodes for d in r.delegations)
            unnamed_note = [f"{unnamed} node(s), not named by the log"] if unnamed else []
            info["fallback_ops"] = list(r.fallback_ops) or unnamed_note
        return info


@register_backend("android", files=(".tflite",))
class AndroidBackend(Backend):
    def __init__(self, settings: RunSettings) -> None:
        super().__init__(settings)
        serial = settings.options.get("serial")
        if not serial:
            raise BackendUnavailable("the android backend needs options['serial'] (use a device id android:<serial>)")
        delegate = settings.options.get("delegate", "gpu")
        if delegate not in DELEGATE_FLAGS:
            raise BackendUnavailable(f"unknown android delegate {delegate!r}; use one of {', '.join(DELEGATE_FLAGS)}")
        ok, why = device_status(str(serial))
        if not ok:
            raise BackendUnavailable(why)
        self.adb = Adb(str(serial), shutil.which("adb") or "adb")

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """adb on PATH and at least one phone in state ``device``; lists every connected serial."""
        try:
            executable, devices = connected()
        except BackendUnavailable as exc:
            return False, str(exc)
        listed = ", ".join(f"{s} ({state})" for s, state in devices.items())
        if not devices:
            return False, f"no phone connected ({executable} devices lists none; enable USB debugging)"
        if "device" not in devices.values():
            return False, "no phone ready: " + "; ".join(not_ready(s, state) for s, state in devices.items())
        return True, f"{executable}; phones: {listed}"

    def load_module(self, module: nn.Module) -> LoadedModel:
        """Converted to TFLite at measure time, at the timing shape (``bench.runtime.convert.to_tflite``)."""
        return AndroidModel(self.settings, self.adb, module=module)

    def load_file(self, path: Path) -> LoadedModel:
        """A ``.tflite`` file, timed at its own input shape (benchmark_model is not told another): where
        the host can read the file, ``measure`` refuses a shape that is not the file's; elsewhere the
        shape is unchecked, which ``describe()`` says."""
        if path.suffix.lower() != ".tflite" or not path.is_file():
            raise ConversionError(f"the android backend times .tflite files; {path} is not one")
        return AndroidModel(self.settings, self.adb, file=path)
