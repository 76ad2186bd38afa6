"""Convert PyTorch modules to ONNX and TFLite, checking every conversion against its source.

Each conversion runs the source module and the converted model on the same seeded uniform [0, 1)
input (and, when given, the first representative image) and raises :class:`ConversionError`
when the largest absolute output difference exceeds the bound for the precision:

* ``fp32``: 1e-4. Measured conversions of conv / PixelShuffle nets differ by ~1e-7 (float
  reassociation); 1e-4 is 1/40 of an 8-bit grey level, so a model that passes scores the same.
* ``fp16``: 1e-2 (fp16 weights: ~1e-3 relative rounding per weight, accumulated over a few
  layers; 1e-2 is 2.5 grey levels).
* ``int8``: 0.25. Quantisation error is a quality change to report (``psnr_vs_fp32_db``), not a
  conversion bug; the bound only rejects broken models (non-finite output, or an error of a
  quarter of the full range somewhere: wrong ranges, saturation, a mistranslated op).

Non-finite outputs are always rejected. TFLite models are NHWC in and out with a static shape;
ONNX models are NCHW, with dynamic height / width when the export allows it (``dynamic_hw`` in the
report says whether it did). Library imports stay inside the functions (``import bench`` is fast).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.runtime.errors import ConversionError, Precision
from bench.runtime.quantize import Ranges, from_tensor, mean_psnr_db, quantize_fp16, quantize_int8, to_tensor

BOUNDS: dict[str, float] = {"fp32": 1e-4, "fp16": 1e-2, "int8": 0.25}


@dataclass
class ConversionReport:
    """What a conversion produced and how closely it matches its source."""

    format: str  # "onnx" | "tflite"
    path: str
    precision: str
    input_shape: tuple[int, ...]  # NCHW
    max_abs_error: float  # vs the source module, over all checked inputs
    bound: float
    seconds: float  # export (+ tflite: the fp32 check and quantisation)
    size_bytes: int
    ops: list[str] = field(default_factory=list)  # op types in the converted graph
    dynamic_hw: bool = False
    io_dtype: str = "float32"  # tflite: float32, int8 or uint8
    psnr_vs_fp32_db: float | None = None  # quantised models: output PSNR vs the fp32 source
    checked_shapes: list[tuple[int, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seeded_input(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """The check input: uniform [0, 1) float32 of ``shape``, the same on every run."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def torch_output(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    if not isinstance(out, torch.Tensor):
        raise ConversionError(f"{type(module).__name__} returned {type(out).__name__}, expected one tensor")
    return out.float().numpy()


def _nchw(shape: Iterable[int]) -> tuple[int, int, int, int]:
    dims = tuple(int(d) for d in shape)
    if len(dims) != 4 or min(dims) < 1:
        raise ValueError(f"input shape must be N x C x H x W with positive sizes, got {dims}")
    return dims[0], dims[1], dims[2], dims[3]


def fit_to_shape(image: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """A representative image (CHW or NCHW float32) centre-cropped to ``shape``."""
    x = np.asarray(image, dtype=np.float32)
    x = x[None] if x.ndim == 3 else x
    n, c, h, w = shape
    if x.ndim != 4 or x.shape[1] != c or x.shape[2] < h or x.shape[3] < w:
        raise ValueError(f"representative image of shape {x.shape} cannot be cropped to {shape}")
    top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    x = x[:1, :, top : top + h, left : left + w]
    return np.ascontiguousarray(np.repeat(x, n, axis=0))


def known_unsupported(module: nn.Module, fmt: str) -> list[str]:
    """Layers this converter is known to reject, as 'name (Type, why)'."""
    found = []
    if fmt == "tflite":
        for name, layer in module.named_modules():
            if isinstance(layer, nn.modules.conv._ConvTransposeNd) and any(layer.output_padding):
                found.append(
                    f"{name or '<root>'} ({type(layer).__name__} with output_padding={layer.output_padding}: "
                    "litert-torch cannot lower it; use a conv + PixelShuffle upsampler)"
                )
    return found


def _failure(fmt: str, tool: str, module: nn.Module, exc: BaseException, hint: str = "") -> ConversionError:
    layers = known_unsupported(module, fmt)
    detail = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
    cause = f"offending layer(s): {'; '.join(layers)}. " if layers else ""
    return ConversionError(
        f"{tool} could not convert {type(module).__name__} to {fmt}{hint}: {cause}"
        f"{type(exc).__name__}: {detail[:600]}{'...' if len(detail) > 600 else ''}"
    )


def check_outputs(
    label: str, module: nn.Module, pairs: list[tuple[str, np.ndarray, np.ndarray]], bound: float, ops: list[str]
) -> float:
    """Largest |converted - source| over (input name, converted, source) triples; raises past ``bound``."""
    worst = 0.0
    for what, got, want in pairs:
        if got.shape != want.shape:
            raise ConversionError(
                f"{label} of {type(module).__name__} gives output shape {got.shape} on {what}, "
                f"PyTorch gives {want.shape}."
            )
        diff = np.abs(got.astype(np.float64) - want)
        if not np.all(np.isfinite(got)):
            raise ConversionError(f"{label} of {type(module).__name__} gives non-finite outputs on {what}.")
        err = float(diff.max()) if diff.size else 0.0
        if err > bound:
            where = tuple(int(i) for i in np.unravel_index(int(diff.argmax()), diff.shape))
            raise ConversionError(
                f"{label} of {type(module).__name__} disagrees with PyTorch on {what}: max |error| {err:.3g} "
                f"at output index {where} (mean {float(diff.mean()):.3g}) exceeds the bound {bound:.3g}. "
                f"Ops in the converted model: {', '.join(ops) or 'unknown'}; an op the converter mistranslates "
                "(e.g. a gather with shape-dependent indices) or a numerically fragile layer is the usual cause."
            )
        worst = max(worst, err)
    return worst


TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


class Permuted(nn.Module):
    """``module`` with its input permuted by ``before`` and its output by ``after``: ``Permuted(m, TO_NCHW,
    TO_NHWC)`` is an NCHW module seen as NHWC (TFLite's layout); the reverse sees an NHWC module as NCHW."""

    def __init__(self, module: nn.Module, before: tuple[int, ...], after: tuple[int, ...]) -> None:
        super().__init__()
        self.module, self.before, self.after = module, before, after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.permute(*self.before)).permute(*self.after)


def to_onnx(
    module: nn.Module,
    input_shape_nchw: tuple[int, ...],
    path: Path | str,
    dynamic_hw: bool = True,
    opset: int = 17,
    bound: float | None = None,
) -> ConversionReport:
    """Export ``module`` to ONNX (torch.onnx, dynamo exporter) and check it with onnxruntime.

    With ``dynamic_hw`` the height and width are exported as dynamic where the model allows it
    (the report's ``dynamic_hw`` says whether they are) and the check also runs at twice the size.
    """
    import onnx
    import onnxruntime as ort

    shape, path, bound = _nchw(input_shape_nchw), Path(path), BOUNDS["fp32"] if bound is None else bound
    module = module.eval()
    x = seeded_input(shape)
    reference = torch_output(module, x)  # also warms shape-keyed caches before tracing
    dims = {2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO} if dynamic_hw else None
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        torch.onnx.export(
            module, (torch.from_numpy(x),), str(path), dynamo=True, opset_version=opset, verbose=False,
            input_names=["input"], output_names=["output"], external_data=False,
            dynamic_shapes=(dims,) if dims else None,
        )  # fmt: skip
    except Exception as exc:
        hint = " with dynamic height/width (a static export, dynamic_hw=False, may work)" if dims else ""
        raise _failure("onnx", f"torch.onnx {torch.__version__}", module, exc, hint) from exc
    seconds = time.perf_counter() - start
    graph = onnx.load(str(path), load_external_data=False).graph
    ops = sorted({node.op_type for node in graph.node})
    in_dims = graph.input[0].type.tensor_type.shape.dim
    is_dynamic = bool(dynamic_hw) and all(d.HasField("dim_param") for d in in_dims[2:4])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(inp: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(session.run(None, {session.get_inputs()[0].name: inp})[0])
        except Exception as exc:  # onnxruntime raises its own exception types
            kind = "dynamic " if is_dynamic else ""
            raise ConversionError(
                f"the {kind}ONNX export of {type(module).__name__} fails to run at input {inp.shape} in onnxruntime "
                f"({exc}); it has probably baked a shape into a constant" + ("; try dynamic_hw=False" if kind else "")
            ) from exc

    pairs = [(f"seeded input {shape}", run(x), reference)]
    checked: list[tuple[int, ...]] = [shape]
    if is_dynamic:
        bigger = (shape[0], shape[1], 2 * shape[2], 2 * shape[3])
        x2 = seeded_input(bigger, seed=1)
        pairs.append((f"seeded input {bigger}", run(x2), torch_output(module, x2)))
        checked.append(bigger)
    err = check_outputs(f"ONNX (opset {opset}) export", module, pairs, bound, ops)
    notes = [] if is_dynamic or not dynamic_hw else ["height/width could not be made dynamic; the export is static"]
    return ConversionReport(
        "onnx", str(path), "fp32", shape, err, bound, seconds, path.stat().st_size, ops,
        dynamic_hw=is_dynamic, checked_shapes=checked, notes=notes,
    )  # fmt: skip


def tflite_ops(model: bytes) -> list[str]:
    """Sorted op types of a .tflite model (builtin names, e.g. CONV_2D, TRANSPOSE_CONV)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=model, experimental_op_resolver_type=resolver)
    return sorted({str(op["op_name"]) for op in interp._get_ops_details()} - {"DELEGATE"})


def tflite_runner(model: bytes, threads: int = 1, xnnpack: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """NCHW float32 -> NCHW float32 through a TFLite interpreter (quantised I/O handled at the boundary)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=model, num_threads=threads, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]

    def run(x: np.ndarray) -> np.ndarray:
        interp.set_tensor(inp["index"], to_tensor(np.transpose(x, (0, 2, 3, 1)), inp))
        interp.invoke()
        return np.transpose(from_tensor(interp.get_tensor(out["index"]), out), (0, 3, 1, 2))

    return run


def to_tflite(
    module: nn.Module,
    input_shape_nchw: tuple[int, ...],
    path: Path | str,
    precision: Precision = "fp32",
    representative: Iterable[np.ndarray] | None = None,
    bound: float | None = None,
    uint8_io: bool = False,
    ranges: Ranges | None = None,
) -> ConversionReport:
    """Convert ``module`` to a static-shape NHWC .tflite with litert-torch, quantised to ``precision``.

    ``representative``: NCHW (or CHW) float32 images, centre-cropped to the input shape; int8 is
    calibrated on them (on seeded random inputs when none are given, noted in the report), and
    quantised models report ``psnr_vs_fp32_db`` on them. ``uint8_io`` (int8 only) gives uint8 I/O.
    ``ranges`` (int8 only): stored activation ranges of this module (:func:`~bench.runtime.quantize.
    calibrate_int8`, at any shape) used instead of calibrating here.
    """
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    import litert_torch

    shape, path = _nchw(input_shape_nchw), Path(path)
    if precision not in BOUNDS:
        raise ValueError(f"precision must be one of {sorted(BOUNDS)}, got {precision!r}")
    if uint8_io and precision != "int8":
        raise ValueError("uint8_io needs precision='int8'")
    if ranges is not None and precision != "int8":
        raise ValueError("ranges need precision='int8'")
    bound = BOUNDS[precision] if bound is None else bound
    reps = [fit_to_shape(r, shape) for r in (() if representative is None else representative)]
    module = module.eval()
    checks = [(f"seeded input {shape}", seeded_input(shape))] + [("representative image 0", r) for r in reps[:1]]
    references = [torch_output(module, x) for _, x in checks]  # also warms shape-keyed caches
    tool = f"litert-torch {metadata.version('litert-torch')}"
    sample = torch.from_numpy(np.ascontiguousarray(np.transpose(checks[0][1], (0, 2, 3, 1))))
    fp32_bound = bound if precision == "fp32" else BOUNDS["fp32"]
    notes: list[str] = []
    start = time.perf_counter()
    for attempt in (1, 2):  # litert-torch 0.10 can write wrong constants on its first conversion in a process
        try:
            model = bytes(litert_torch.convert(Permuted(module, TO_NCHW, TO_NHWC).eval(), (sample,)).model_content())
        except Exception as exc:
            raise _failure("tflite", tool, module, exc) from exc
        try:
            check_outputs(
                f"TFLite fp32 conversion ({tool}{', second attempt' if attempt == 2 else ''})", module,
                [(checks[0][0], tflite_runner(model)(checks[0][1]), references[0])], fp32_bound, tflite_ops(model),
            )  # fmt: skip
            break
        except ConversionError as exc:
            if attempt == 2:
                raise
            notes.append(f"first conversion rejected, converted again: {exc}")
    if precision == "fp16":
        model = quantize_fp16(model)
    elif precision == "int8":
        calibration = reps or [seeded_input(shape, seed) for seed in range(1, 9)]
        if ranges is not None:
            notes.append("int8 with the stored activation ranges (not calibrated on this shape)")
        elif not reps:
            notes.append("int8 calibrated on 8 random inputs; pass representative images for real ranges")
        try:
            nhwc = [] if ranges is not None else [np.transpose(c, (0, 2, 3, 1)) for c in calibration]
            model = quantize_int8(model, nhwc, uint8_io=uint8_io, ranges=ranges)
        except ConversionError:
            raise
        except Exception as exc:
            raise _failure("tflite", "ai-edge-quantizer", module, exc) from exc
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    ops = tflite_ops(model)
    run = tflite_runner(model)
    pairs = [(what, run(x), ref) for (what, x), ref in zip(checks, references, strict=True)]
    # Stored ranges come from photos, and white noise rightly leaves them: its error is reported (and must be
    # finite), while the bound applies to the representative images, when there are any.
    loose = pairs[:1] if ranges is not None else []
    label = f"TFLite {precision} conversion ({tool})"
    err = max(check_outputs(label, module, pairs[len(loose) :], bound, ops),
              check_outputs(label, module, loose, float("inf"), ops))  # fmt: skip
    if loose:
        notes.append(f"stored ranges: the random input's max error ({err:.3g}) is not held to the {bound:g} bound"
                     + ("; the representative image's is" if reps else ""))  # fmt: skip
    psnr = None
    if precision != "fp32":
        psnr = mean_psnr_db((run(r), torch_output(module, r)) for r in reps or [checks[0][1]])
    io_dtype = "uint8" if uint8_io else "int8" if precision == "int8" else "float32"
    return ConversionReport(
        "tflite", str(path), precision, shape, err, bound, seconds, len(model), ops,
        io_dtype=io_dtype, psnr_vs_fp32_db=psnr, checked_shapes=[shape], notes=notes,
    )  # fmt: skip


def summarize_reports(reports: Iterable[ConversionReport]) -> dict[str, Any]:
    """What a backend's description says about its conversions: the op types and each report."""
    reports = list(reports)
    return {"ops": sorted({op for r in reports for op in r.ops}), "conversions": [r.as_dict() for r in reports]}
