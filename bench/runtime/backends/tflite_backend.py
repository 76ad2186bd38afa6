"""TFLite on the CPU through ai-edge-litert's Interpreter: XNNPACK (default) or the builtin kernels.

Settings: ``threads`` -> ``num_threads``; ``options["xnnpack"]`` (default True; False uses
``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``, i.e. no XNNPACK); ``precision`` fp32 /
fp16 / int8 for converted modules; ``options["uint8_io"]`` (int8: uint8 in / out, as the Mobile
AI challenges ask); ``options["representative"]``: NCHW float32 images for int8 calibration and
the quality report (centre-cropped to each input shape; random inputs when none fit);
``options["ranges"]``: stored int8 activation ranges (a quantised submission's), used for every
input shape instead of calibrating.

PyTorch modules convert to static-shape models, so each input shape is converted on first use
and cached (with its :class:`ConversionReport`). ``.tflite`` files with dynamic height / width
are resized per shape; a static file only runs its own shape. The interface is NCHW float32;
models are NHWC, and integer I/O is (de)quantised with the tensor's scale / zero point.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from importlib import metadata
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
from bench.runtime.convert import ConversionReport, seeded_input, summarize_reports, tflite_ops, to_tflite
from bench.runtime.quantize import from_tensor, to_tensor


def fallback_ops(nodes: list[dict[str, Any]], graph_outputs: set[int]) -> list[str]:
    """Names of the nodes a delegate did not take, from the interpreter's node list after delegation.

    The list keeps every original node and appends one ``DELEGATE`` node per partition, whose inputs
    and outputs are the partition's boundary tensors (the Python API does not expose the execution
    plan). An original node runs outside the delegates when it reads a delegate's output, writes a
    delegate's input or a graph output that no delegate writes, or feeds such a node (a fixed point).
    A tensor that a partition both uses inside and exports would mark its inner readers as outside:
    a corner case that single-op probes and chains do not have.
    """
    delegates = [n for n in nodes if n["op_name"] == "DELEGATE"]
    originals = [n for n in nodes if n["op_name"] != "DELEGATE"]
    if not delegates:
        return [str(n["op_name"]) for n in originals]
    d_in = {int(t) for n in delegates for t in n["inputs"]}
    d_out = {int(t) for n in delegates for t in n["outputs"]}
    outside: set[int] = set()
    for i, node in enumerate(originals):
        outs, ins = {int(t) for t in node["outputs"]}, {int(t) for t in node["inputs"]}
        if (outs & d_in) - d_out or (outs & graph_outputs) - d_out or ins & d_out:
            outside.add(i)
    changed = True
    while changed:  # a node feeding an outside node is outside too, unless a delegate writes that tensor
        changed = False
        feeds = {int(t) for i in outside for t in originals[i]["inputs"]} - d_out
        for i, node in enumerate(originals):
            if i not in outside and {int(t) for t in node["outputs"]} & feeds:
                outside.add(i)
                changed = True
    return [str(originals[i]["op_name"]) for i in sorted(outside)]


class _Runner:
    """One interpreter allocated for one input shape (given NCHW; the file's own order is ``layout``)."""

    def __init__(self, model: bytes, nchw: tuple[int, ...], threads: int, xnnpack: bool, label: str,
                 layout: str = "NHWC") -> None:  # fmt: skip
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError as exc:
            raise BackendUnavailable(f"ai-edge-litert is not installed: {exc}") from exc
        resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interp = Interpreter(model_content=model, num_threads=threads, experimental_op_resolver_type=resolver)
        inputs, outputs = self.interp.get_input_details(), self.interp.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ConversionError(f"{label}: expected one input and one output, got {len(inputs)} and {len(outputs)}")
        n, c, h, w = nchw
        self.nhwc = layout == "NHWC"
        want = [n, h, w, c] if self.nhwc else [n, c, h, w]
        have, signature = [int(d) for d in inputs[0]["shape"]], [int(d) for d in inputs[0]["shape_signature"]]
        check_layout(label, signature, layout, c)
        if have != want:
            if any(s not in (-1, v) for s, v in zip(signature, want, strict=True)):
                raise ConversionError(
                    f"{label} has a static {layout} input of {have}; it cannot run an input of {want}. Convert it "
                    "for this shape, or export it with dynamic height and width (-1 in its shape signature)."
                )
            self.interp.resize_tensor_input(inputs[0]["index"], want, strict=True)
        self.interp.allocate_tensors()
        self.input, self.output = self.interp.get_input_details()[0], self.interp.get_output_details()[0]
        nodes = self.interp._get_ops_details()
        self.delegated = any(node["op_name"] == "DELEGATE" for node in nodes)
        outputs = {int(t["index"]) for t in self.interp.get_output_details()}
        self.fallback_ops = fallback_ops(nodes, outputs) if xnnpack else []

    def set_input(self, x: np.ndarray) -> None:
        x = np.transpose(x, (0, 2, 3, 1)) if self.nhwc else x
        self.interp.set_tensor(self.input["index"], to_tensor(np.ascontiguousarray(x), self.input))

    def run(self, x: np.ndarray) -> np.ndarray:
        self.set_input(x)
        self.interp.invoke()
        y = from_tensor(self.interp.get_tensor(self.output["index"]), self.output)
        return np.ascontiguousarray(np.transpose(y, (0, 3, 1, 2)) if self.nhwc else y)


class TFLiteModel(LoadedModel):
    backend = "tflite"

    def __init__(self, settings: RunSettings, module: nn.Module | None = None, path: Path | None = None) -> None:
        self.settings = settings
        self.xnnpack = bool(settings.options.get("xnnpack", True))
        self.uint8_io = bool(settings.options.get("uint8_io", False))
        if self.uint8_io and settings.precision != "int8" and module is not None:
            raise ConversionError("uint8_io needs precision int8")
        self.representative = [np.asarray(r, np.float32) for r in settings.options.get("representative") or ()]
        self.ranges = settings.options.get("ranges")
        if self.ranges is not None and settings.precision != "int8":
            raise ConversionError("stored int8 ranges need precision int8")
        self.module, self.path = module, path
        self.file_model = path.read_bytes() if path is not None else None
        self.reports: dict[tuple[int, ...], ConversionReport] = {}
        self._runners: dict[tuple[int, ...], _Runner] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def conversions(self) -> int:
        """How many conversions this model has made (one per input shape)."""
        return len(self.reports)

    def _convert(self, shape: tuple[int, ...]) -> bytes:
        assert self.module is not None
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bench-tflite-")
        path = Path(self._tmp.name) / f"model-{self.settings.precision}-{'x'.join(map(str, shape))}.tflite"
        reps = [r for r in self.representative if r.shape[-2] >= shape[2] and r.shape[-1] >= shape[3]]
        report = to_tflite(
            self.module, shape, path, self.settings.precision, reps or None, uint8_io=self.uint8_io, ranges=self.ranges
        )  # fmt: skip
        self.reports[shape] = report
        return path.read_bytes()

    def runner(self, shape: tuple[int, ...]) -> _Runner:
        """The interpreter for NCHW ``shape`` (converted / resized on first use, then cached)."""
        shape = tuple(int(d) for d in shape)
        if len(shape) != 4:
            raise ValueError(f"expected an NCHW shape, got {shape}")
        if shape not in self._runners:
            model = self.file_model if self.file_model is not None else self._convert(shape)
            label = self.path.name if self.path is not None else type(self.module).__name__
            layout = str(self.settings.options.get("layout", "NHWC")) if self.file_model is not None else "NHWC"
            self._runners[shape] = _Runner(model, shape, self.settings.threads, self.xnnpack, label, layout)
        return self._runners[shape]

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.runner(x.shape).run(x)

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        runner = self.runner(shape)
        runner.set_input(seeded_input(tuple(shape)))
        invoke: Callable[[], object] = runner.interp.invoke
        return invoke

    def describe(self) -> dict[str, Any]:
        from ai_edge_litert import __version__ as litert_version

        info: dict[str, Any] = {
            "ai_edge_litert": litert_version,
            "threads": self.settings.threads,
            "xnnpack": self.xnnpack,
        }
        if self._runners:
            info["delegate_applied"] = any(r.delegated for r in self._runners.values())
            if self.xnnpack:  # the ops left outside the delegate, run by TFLite's own CPU kernels
                info["fallback_ops"] = sorted({op for r in self._runners.values() for op in r.fallback_ops})
        if self.file_model is not None:
            assert self.path is not None
            runner = next(iter(self._runners.values()), None)
            info.update(file=self.path.name, ops=tflite_ops(self.file_model))
            if runner is not None:
                info["io_dtype"] = np.dtype(runner.input["dtype"]).name
            return info
        info.update(litert_torch=metadata.version("litert-torch"), precision=self.settings.precision)
        info["io_dtype"] = "uint8" if self.uint8_io else "int8" if self.settings.precision == "int8" else "float32"
        if self.reports:
            info.update(summarize_reports(self.reports.values()))
        return info


@register_backend("tflite", files=(".tflite",), requires={"ai_edge_litert.interpreter": "ai-edge-litert"})
class TFLiteBackend(ConvertingBackend):
    model = TFLiteModel

    @classmethod
    def ready(cls) -> tuple[bool, str]:
        from ai_edge_litert import __version__ as litert_version

        converter = distribution_version("litert-torch")
        missing = "no litert-torch (PyTorch modules cannot be converted; .tflite files still load)"
        described = f"litert-torch {converter}" if converter else missing
        return True, f"ai-edge-litert {litert_version}; {described}"
