"""ONNX Runtime on the CPU (fp32): ``threads`` intra-op threads, one inter-op thread, all graph optimisations.

PyTorch modules are exported with :func:`bench.runtime.convert.to_onnx` (checked against the
module) with dynamic height / width; a model whose export cannot be dynamic (e.g. shape-dependent
index tables) is exported once per input shape instead, on demand.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from bench.errors import BackendUnavailable, ConversionError
from bench.runtime.backends.base import (
    ConvertingBackend,
    LoadedModel,
    RunSettings,
    check_layout,
    distribution_version,
    register_backend,
)
from bench.runtime.convert import ConversionReport, seeded_input, summarize_reports, to_onnx


def _session(path: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise BackendUnavailable(f"onnxruntime is not installed: {exc}") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ConversionError(f"onnxruntime cannot load {path.name}: {exc}") from exc


class OnnxModel(LoadedModel):
    backend = "onnxruntime"

    def __init__(self, settings: RunSettings, module: nn.Module | None = None, path: Path | None = None) -> None:
        if settings.precision != "fp32":
            raise ConversionError(f"the onnxruntime backend runs fp32 only, not {settings.precision}")
        self.settings = settings
        self.module = module
        self.reports: list[ConversionReport] = []
        self._sessions: dict[tuple[int, ...], Any] = {}  # by input shape; () = any shape
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.source = path.name if path is not None else None
        if path is not None:
            self._sessions[()] = session = _session(path, settings.threads)
            layout, channels = str(settings.options.get("layout", "NCHW")), int(settings.options.get("channels", 3))
            check_layout(path.name, list(session.get_inputs()[0].shape), layout, channels)

    def _workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bench-onnx-")
        return Path(self._tmp.name)

    def session(self, shape: tuple[int, ...]) -> Any:
        """The session running ``shape``: the dynamic one, or one exported for that shape."""
        shape = tuple(int(d) for d in shape)
        if () in self._sessions:
            return self._sessions[()]
        if shape in self._sessions:
            return self._sessions[shape]
        if self.module is None:
            raise ConversionError("no model loaded")
        report = None
        if not self.reports:  # first export: try dynamic H/W; once an export is static, stay per-shape
            try:
                report = to_onnx(self.module, shape, self._workdir() / "model-dynamic.onnx", dynamic_hw=True)
            except ConversionError:
                report = None
        if report is None:
            name = "x".join(map(str, shape))
            report = to_onnx(self.module, shape, self._workdir() / f"model-{name}.onnx", dynamic_hw=False)
        self.reports.append(report)
        key = () if report.dynamic_hw else shape
        self._sessions[key] = _session(Path(report.path), self.settings.threads)
        return self._sessions[key]

    @property
    def nhwc(self) -> bool:
        """Whether the file's input and output are NHWC (``options["layout"]``; converted modules are NCHW)."""
        return self.module is None and self.settings.options.get("layout") == "NHWC"

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)) if self.nhwc else x, dtype=np.float32)
        session = self.session(x.shape)
        y = np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0], dtype=np.float32)
        return np.ascontiguousarray(np.transpose(y, (0, 3, 1, 2))) if self.nhwc and y.ndim == 4 else y

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        n, c, h, w = shape
        shape = (n, h, w, c) if self.nhwc else tuple(shape)
        session = self.session(shape)
        feed = {session.get_inputs()[0].name: seeded_input(tuple(shape))}
        outputs = [session.get_outputs()[0].name]

        def once() -> object:
            return session.run(outputs, feed)

        return once

    def describe(self) -> dict[str, Any]:
        import onnxruntime as ort

        info: dict[str, Any] = {
            "onnxruntime": ort.__version__,
            "providers": ["CPUExecutionProvider"],
            "threads": self.settings.threads,
            "inter_op_threads": 1,
            "graph_optimization": "ORT_ENABLE_ALL",
            "precision": "fp32",
        }
        if self.reports:
            info["dynamic_hw"] = self.reports[-1].dynamic_hw
            info.update(summarize_reports(self.reports))
        elif self.source is not None:
            info["file"] = self.source
        return info


@register_backend("onnxruntime", files=(".onnx",), requires={"onnxruntime": "onnxruntime"})
class OnnxBackend(ConvertingBackend):
    model = OnnxModel

    @classmethod
    def ready(cls) -> tuple[bool, str]:
        import onnxruntime as ort

        if "CPUExecutionProvider" not in ort.get_available_providers():
            return False, f"onnxruntime {ort.__version__} has no CPUExecutionProvider"
        onnx, script = distribution_version("onnx"), distribution_version("onnxscript")
        missing = "no PyTorch export (onnx or onnxscript missing; .onnx files still load)"
        export = f"onnx {onnx}, onnxscript {script}" if onnx and script else missing
        return True, f"onnxruntime {ort.__version__} (CPU); {export}"
