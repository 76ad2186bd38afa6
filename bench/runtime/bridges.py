"""Model files on backends that do not load their format: converted, and checked against the original.

A bridge turns a model file of one format into a model another backend runs, then checks the result
against the original runtime on the same seeded uniform [0, 1) input at every shape it runs
(:class:`CheckedModel`), refusing an error over the precision's bound (:data:`bench.runtime.convert.
BOUNDS`: 1e-4 for fp32). Registered bridges, by (source format, backend):

* ``onnx`` -> ``tflite`` / ``android``: ``onnx2torch`` rebuilds the graph as PyTorch modules from the
  project's own op table (no code from the file), checked against ONNX Runtime, then the backend converts
  that module as it converts any PyTorch model (``litert-torch``, fp16 / int8 quantisation by the
  profile). Chosen over ``onnx2tf``, whose release pins numpy 1.26, onnx 1.19, onnxruntime 1.23 and
  TensorFlow 2.19, downgrading half of this environment;
* ``keras`` / ``saved_model`` -> ``tflite`` / ``android``: TensorFlow's ``TFLiteConverter``
  (:mod:`bench.runtime.tf_convert`) at the profile's precision, checked against the Keras model or the
  SavedModel's serving signature.

On Android, where a model cannot be run here, the check runs the converted file on this machine's TFLite
interpreter instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.registry import Registry
from bench.runtime.backends.base import Backend, LoadedModel, RunSettings
from bench.runtime.convert import BOUNDS, TO_NCHW, TO_NHWC, Permuted, seeded_input
from bench.runtime.errors import ConversionError
from bench.runtime.protocol import LatencySettings, LatencyStats

Runner = Callable[[np.ndarray], np.ndarray]  # NCHW float32 -> NCHW float32
Bridge = Callable[[Backend, Path, str], LoadedModel]  # (backend, file, layout) -> a checked model
BRIDGES = Registry[Bridge]("format bridge")
CHECK_SIDE = 32  # the check's height and width when the timed shape is larger (a dynamic file's cost)


def source_format(path: Path) -> str:
    """The format of a model file or folder: onnx, tflite, keras or saved_model (else its suffix)."""
    suffix = path.suffix.lower()
    if path.is_dir():
        return "saved_model"
    return {".onnx": "onnx", ".tflite": "tflite", ".keras": "keras", ".h5": "keras"}.get(suffix, suffix or path.name)


def bridge(backend: Backend, path: Path, layout: str) -> LoadedModel:
    """``path`` on ``backend`` through its registered bridge (:class:`ConversionError` when there is none)."""
    key = f"{source_format(path)}->{backend.name}"
    if key not in BRIDGES:
        routes = ", ".join(sorted(BRIDGES)) or "none"
        raise ConversionError(
            f"backend {backend.name!r} loads {', '.join(backend.file_suffixes) or 'PyTorch modules'}, not "
            f"{path.name}, and no converter takes {source_format(path)} to it (converters: {routes})"
        )
    return BRIDGES[key](backend, path, layout)


class CheckedModel(LoadedModel):
    """A converted model, compared with the original (``reference``) at each input shape before it is used:
    the largest absolute difference on a seeded input is stored per shape and refused over ``bound``."""

    def __init__(self, inner: LoadedModel, reference: Runner, bound: float, info: dict[str, Any],
                 local: Runner | None = None) -> None:  # fmt: skip
        self.inner, self.reference, self.bound, self.info = inner, reference, bound, info
        self.local = local  # runs the converted model here when ``inner`` runs on a remote device
        self.converted = inner if isinstance(inner, TFConverted) else None  # its TFLite files give the complexity
        self.backend, self.settings = inner.backend, inner.settings
        self.errors: dict[str, float] = {}

    def check(self, shape: tuple[int, ...]) -> None:
        n, c, h, w = shape
        if self.local is not None:  # a remote device's file is checked at a small shape here
            shape = (n, c, min(h, CHECK_SIDE), min(w, CHECK_SIDE))
        key = "x".join(map(str, shape))
        if key in self.errors:
            return
        x = seeded_input(tuple(shape))
        got, want = (self.local or self.inner.run)(x), self.reference(x)
        if got.shape != want.shape or not np.all(np.isfinite(got)):
            raise ConversionError(f"{self.info['converter']}: the converted model gives {got.shape} (finite: "
                                  f"{bool(np.all(np.isfinite(got)))}), the original {want.shape} at {key}")  # fmt: skip
        error = float(np.max(np.abs(got.astype(np.float64) - want))) if got.size else 0.0
        if error > self.bound:
            raise ConversionError(
                f"{self.info['converter']}: the converted model differs from the original by up to {error:.3g} at "
                f"input {key}, over the {self.settings.precision} bound of {self.bound:g}; it is not timed"
            )
        self.errors[key] = error

    def run(self, x: np.ndarray) -> np.ndarray:
        self.check(tuple(x.shape))
        return self.inner.run(x)

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        self.check(tuple(shape))
        return self.inner.timer(shape)

    def measure(self, shape: tuple[int, ...], settings: LatencySettings) -> LatencyStats:
        self.check(tuple(shape))
        return self.inner.measure(shape, settings)

    def describe(self) -> dict[str, Any]:
        worst = max(self.errors.values(), default=None)
        return self.inner.describe() | {"conversion": self.info | {
            "max_abs_error": worst, "max_abs_error_by_shape": dict(self.errors), "bound": self.bound}}  # fmt: skip


def onnx_runner(path: Path, layout: str) -> Runner:
    """NCHW -> NCHW through ONNX Runtime on the original file (one thread: a check, not a timing)."""
    from bench.runtime.backends import BACKENDS

    loaded = BACKENDS["onnxruntime"](RunSettings(1, "fp32", {"layout": layout})).load_file(path)
    return loaded.run


def _onnx2torch() -> Any:
    """onnx2torch's ``convert``. The package imports torchvision for its NonMaxSuppression and RoIAlign
    converters alone; PyPI's torchvision cannot import beside the CPU build of torch, so where it is missing
    a placeholder module stands in whose ops raise: those two detection ops, never in a restoration
    network, are then refused, every other converter is onnx2torch's own."""
    import importlib.util
    import sys
    import types

    if "onnx2torch" not in sys.modules and importlib.util.find_spec("torchvision") is None:

        def unavailable(*_args: Any, **_kwargs: Any) -> Any:
            raise ConversionError("NonMaxSuppression / RoIAlign need torchvision, which is not installed")

        placeholder = types.ModuleType("torchvision")
        ops = types.ModuleType("torchvision.ops")
        ops.nms = ops.box_convert = ops.roi_align = unavailable  # type: ignore[attr-defined]
        placeholder.ops = ops  # type: ignore[attr-defined]
        sys.modules.update({"torchvision": placeholder, "torchvision.ops": ops})
        try:
            from onnx2torch import convert
        finally:  # only onnx2torch's two modules keep it: others probing for torchvision find none
            del sys.modules["torchvision"], sys.modules["torchvision.ops"]
        return convert
    from onnx2torch import convert

    return convert


ONNX2TORCH_OPSET = 17  # onnx2torch 1.5 knows Resize up to version 13 and most ops up to opset 17


def _opset_for_onnx2torch(model: Any) -> Any:
    """``model`` moved to opset 17 by ONNX's own version converter when it is newer (torch.onnx exports
    opset 18 and later, whose ``Resize`` onnx2torch does not know); unchanged when that fails."""
    from onnx import version_converter

    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset <= ONNX2TORCH_OPSET:
        return model
    try:
        return version_converter.convert_version(model, ONNX2TORCH_OPSET)
    except Exception:  # the converter has no adapter for some op: onnx2torch then says which op it lacks
        return model


def onnx_module(path: Path, layout: str) -> nn.Module:
    """The ONNX graph as an NCHW PyTorch module (onnx2torch), before any check."""
    import onnx

    convert = _onnx2torch()

    try:
        module = convert(_opset_for_onnx2torch(onnx.load(str(path))))  # external data: read from its folder
    except Exception as exc:  # onnx2torch raises NotImplementedError for ops it has no converter for
        detail = " ".join(str(exc).split())[:400]
        raise ConversionError(f"onnx2torch cannot convert {path.name}: {type(exc).__name__}: {detail}") from exc
    module = _lowered(module.eval())
    return Permuted(module, TO_NHWC, TO_NCHW).eval() if layout == "NHWC" else module


def prelu(x: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
    """ONNX ``PRelu`` with a broadcast slope, in ops litert-torch lowers (onnx2torch's own falls back to
    boolean-mask indexing when the slope is 1 x C x 1 x 1, which no TFLite converter can trace)."""
    return torch.where(x >= 0, x, x * slope)


def _lowered(module: nn.Module) -> nn.Module:
    """onnx2torch's graph with its PRelu modules replaced by :func:`prelu` (same values, traceable)."""
    from torch import fx

    if not isinstance(module, fx.GraphModule):
        return module
    changed = False
    for node in list(module.graph.nodes):
        if node.op == "call_module" and type(module.get_submodule(node.target)).__name__ == "OnnxPReLU":
            node.op, node.target, changed = "call_function", prelu, True
    if changed:
        module.graph.lint()
        module.recompile()
    return module


def _onnx_to_tflite(backend: Backend, path: Path, layout: str) -> LoadedModel:
    module = onnx_module(path, layout)
    converter = f"onnx2torch {metadata.version('onnx2torch')} + litert-torch {metadata.version('litert-torch')}"
    info = {"converted_from": "onnx", "converter": converter, "file": path.name}
    local = None
    if backend.name != "tflite":  # the phone's model is checked on this machine's interpreter
        from bench.runtime.backends.tflite_backend import TFLiteBackend

        local = (
            TFLiteBackend(RunSettings(1, backend.settings.precision, dict(backend.settings.options)))
            .load_module(module)
            .run
        )
    bound = BOUNDS[backend.settings.precision]
    return CheckedModel(backend.load_module(module), onnx_runner(path, layout), bound, info, local)


class TFConverted(LoadedModel):
    """A Keras model or SavedModel converted by TensorFlow for a TFLite backend: once with dynamic height and
    width, or, where Keras cannot export the model so (a layer that needs static sizes), once per input
    shape. ``converted_file`` is the latest TFLite file (its graph gives the complexity)."""

    def __init__(self, backend: Backend, path: Path) -> None:
        from bench.runtime import tf_convert

        self.source, self.target = path, backend
        self.backend, self.settings = backend.name, backend.settings
        options = backend.settings.options
        self.representative = [np.transpose(np.asarray(r, np.float32)[None] if np.ndim(r) == 3 else
                                            np.asarray(r, np.float32), (0, 2, 3, 1))
                               for r in options.get("representative") or ()]  # fmt: skip
        self.uint8_io = bool(options.get("uint8_io"))
        self.folder = Path(tempfile.mkdtemp(prefix="bench-tf-"))
        self.models: dict[tuple[int, ...], LoadedModel] = {}
        self.notes: list[str] = []
        try:
            self.dynamic: LoadedModel | None = self._load(None)
        except ConversionError as exc:
            if tf_convert.is_saved_model(path):
                raise
            self.dynamic = None
            self.notes.append(f"converted per input shape: {str(exc)[:300]}")

    def _load(self, nhwc: tuple[int, ...] | None) -> LoadedModel:
        from bench.runtime import tf_convert

        precision = self.settings.precision
        model = tf_convert.convert(self.source, precision, self.representative or None, self.uint8_io, nhwc)
        name = "dynamic" if nhwc is None else "x".join(map(str, nhwc))
        self.converted_file = self.folder / f"model-{precision}-{name}.tflite"
        self.converted_file.write_bytes(model)
        return self.target.load_file(self.converted_file)

    def file_for(self, shape: tuple[int, ...]) -> Path:
        """The TFLite file that runs NCHW ``shape`` (converted now if needed)."""
        self.model(shape)
        if self.dynamic is not None:
            return self.folder / f"model-{self.settings.precision}-dynamic.tflite"
        n, c, h, w = shape
        return self.folder / f"model-{self.settings.precision}-{n}x{h}x{w}x{c}.tflite"

    def model(self, shape: tuple[int, ...]) -> LoadedModel:
        if self.dynamic is not None:
            return self.dynamic
        n, c, h, w = shape
        if shape not in self.models:
            self.models[shape] = self._load((n, h, w, c))
        return self.models[shape]

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.model(tuple(x.shape)).run(x)

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        return self.model(shape).timer(shape)

    def measure(self, shape: tuple[int, ...], settings: LatencySettings) -> LatencyStats:
        return self.model(shape).measure(shape, settings)

    def describe(self) -> dict[str, Any]:
        latest = self.dynamic or next(reversed(self.models.values()), None)
        return (latest.describe() if latest is not None else {}) | {"tf_notes": self.notes}


def _tf_to_tflite(backend: Backend, path: Path, layout: str) -> LoadedModel:
    from bench.runtime import tf_convert

    converted = TFConverted(backend, path)
    original = tf_convert.reference_runner(path)

    def reference(x: np.ndarray) -> np.ndarray:
        y = original(np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1))))
        return np.ascontiguousarray(np.transpose(y, (0, 3, 1, 2)))

    import tensorflow as tf

    info = {"converted_from": source_format(path), "converter": f"TensorFlow {tf.__version__} TFLiteConverter",
            "file": path.name, "converted_file": str(converted.converted_file) if converted.dynamic else None,
            "per_shape": converted.dynamic is None}  # fmt: skip
    local = None
    if backend.name != "tflite":
        from bench.runtime.backends.tflite_backend import TFLiteBackend

        local = TFConverted(TFLiteBackend(RunSettings(1, backend.settings.precision, {"layout": "NHWC"})), path).run
    return CheckedModel(converted, reference, BOUNDS[backend.settings.precision], info, local)


for _target in ("tflite", "android"):
    BRIDGES.add(f"onnx->{_target}", _onnx_to_tflite)
    BRIDGES.add(f"keras->{_target}", _tf_to_tflite)
    BRIDGES.add(f"saved_model->{_target}", _tf_to_tflite)
