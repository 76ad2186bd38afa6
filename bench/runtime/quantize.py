"""Post-training quantisation of converted TFLite models (fp16 weights, full-integer int8).

Both paths use ``ai-edge-quantizer`` (the quantiser that litert-torch itself builds on) on the
fp32 flatbuffer that :func:`bench.runtime.convert.to_tflite` produced:

* ``fp16``: weight-only float casting. Weights are stored as float16 and a DEQUANTIZE op turns
  them back into float32 at load time; activations and the I/O stay float32. Halves the model
  file; XNNPACK computes in fp32 (or fp16 where the CPU has native fp16 arithmetic).
* ``int8``: static range quantisation (``static_wi8_ai8``): int8 per-channel weights, int8
  activations calibrated (min/max) on representative inputs. ai-edge-quantizer quantises the
  model's inputs and outputs too, so the model takes and returns **int8** tensors (scale / zero
  point in the tensor's quantization parameters). With ``uint8_io=True`` a QUANTIZE op is added
  at each end (uint8 <-> int8 with the same scale, zero point + 128: an exact requantisation),
  giving the uint8-in / uint8-out interface the Mobile AI challenges ask for.

Activation ranges are portable: :func:`calibrate_int8` returns them keyed by tensor name, and
litert-torch names a module's tensors the same at every input shape, so ranges calibrated once
(at one shape, on training-side inputs) quantise the model converted for any other shape to the
same scales and zero points (``quantize_int8(..., ranges=...)``). A quantised submission stores
them as JSON (:func:`ranges_to_json` / :func:`ranges_from_json`), which is how one int8 model is
scored on test images of many sizes and timed at a fixed shape.

:func:`to_tensor` / :func:`from_tensor` quantise and dequantise at an integer model's boundary.
Imports of the quantiser and the flatbuffer schema stay inside the functions (``import bench``
stays fast).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from bench.runtime.errors import ConversionError

_QUANTIZE_OPCODE = 114  # tflite BuiltinOperator.QUANTIZE
_UINT8 = 3  # tflite TensorType.UINT8
_INT8 = 9  # tflite TensorType.INT8


def quantize_fp16(model: bytes) -> bytes:
    """fp32 .tflite bytes -> the same model with float16 weights (weight-only float casting)."""
    from ai_edge_quantizer import qtyping, quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(bytearray(model))
    q.add_weight_only_config(
        regex=".*",
        operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
        num_bits=16,
        algorithm_key=AlgorithmName.FLOAT_CASTING,
    )
    return bytes(q.quantize(enable_progress_report=False).quantized_model)


Ranges = dict[str, dict[str, Any]]  # tensor name -> {"min", "max", "num_samples"} (ai-edge-quantizer's calibration)


def calibrate_int8(model: bytes, calibration_nhwc: Iterable[np.ndarray]) -> Ranges:
    """Activation ranges (min / max per tensor) of an fp32 .tflite over float32 NHWC inputs of its shape."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    interp = Interpreter(model_content=model)
    signatures = interp.get_signature_list()
    if len(signatures) != 1:
        raise ConversionError(f"int8 quantisation expects a model with one signature, got {sorted(signatures)}")
    key, sig = next(iter(signatures.items()))
    (input_name,) = sig["inputs"]
    samples = [{input_name: np.ascontiguousarray(x, dtype=np.float32)} for x in calibration_nhwc]
    if not samples:
        raise ConversionError("int8 quantisation needs at least one calibration input")
    q = quantizer.Quantizer(bytearray(model), recipe.static_wi8_ai8())
    with warnings.catch_warnings():  # calibration keeps all tensors on purpose; its debug-only warning is noise
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
        return dict(q.calibrate({key: samples}, num_threads=1))


def quantize_int8(
    model: bytes, calibration_nhwc: Iterable[np.ndarray] = (), uint8_io: bool = False, ranges: Ranges | None = None
) -> bytes:
    """fp32 .tflite bytes -> full-integer int8 (int8 I/O, or uint8 I/O with ``uint8_io``).

    ``calibration_nhwc``: float32 NHWC arrays of the model's (static) input shape, calibrated here;
    or ``ranges`` from an earlier :func:`calibrate_int8` of the same module (at any input shape).
    """
    from ai_edge_quantizer import quantizer, recipe

    if ranges is None:
        ranges = calibrate_int8(model, calibration_nhwc)
    q = quantizer.Quantizer(bytearray(model), recipe.static_wi8_ai8())
    try:
        quantized = bytes(q.quantize(ranges, enable_progress_report=False).quantized_model)
    except (KeyError, ValueError) as exc:
        raise ConversionError(
            f"the int8 ranges do not fit this model ({type(exc).__name__}: {exc}); were they calibrated on "
            "another architecture or weights?"
        ) from exc
    return with_uint8_io(quantized) if uint8_io else quantized


def ranges_to_json(ranges: Ranges) -> dict[str, Any]:
    """JSON-ready ranges: per tensor its min and max (nested lists, float32 values) and sample count."""
    return {
        name: {key: np.asarray(value).tolist() for key, value in stats.items() if key in ("min", "max", "num_samples")}
        for name, stats in sorted(ranges.items())
    }


def ranges_from_json(data: Any) -> Ranges:
    """The inverse of :func:`ranges_to_json` (raises ``ValueError`` on anything else)."""
    if not isinstance(data, dict) or not data:
        raise ValueError("int8 ranges must be a non-empty mapping of tensor name -> {min, max}")
    ranges: Ranges = {}
    for name, stats in data.items():
        if not isinstance(stats, dict) or "min" not in stats or "max" not in stats:
            raise ValueError(f"int8 ranges of tensor {name!r} need 'min' and 'max'")
        low, high = np.asarray(stats["min"], np.float32), np.asarray(stats["max"], np.float32)
        if low.shape != high.shape or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"int8 ranges of tensor {name!r} must be finite arrays of one shape")
        if np.any(low > high):
            raise ValueError(f"int8 ranges of tensor {name!r} have min above max")
        ranges[str(name)] = {"min": low, "max": high, "num_samples": np.asarray(stats.get("num_samples", 1))}
    return ranges


def with_uint8_io(model: bytes) -> bytes:
    """An int8-I/O .tflite -> uint8 I/O: QUANTIZE uint8->int8 on each input, int8->uint8 on each output."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    m: Any = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    opcode = next((i for i, c in enumerate(m.operatorCodes) if c.builtinCode == _QUANTIZE_OPCODE), None)
    if opcode is None:
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = _QUANTIZE_OPCODE
        code.version = 2
        m.operatorCodes.append(code)
        opcode = len(m.operatorCodes) - 1
    graph = m.subgraphs[0]
    renamed: dict[int, int] = {}

    def uint8_twin(index: int) -> int:
        src = graph.tensors[index]
        if src.type != _INT8 or src.quantization is None or len(src.quantization.zeroPoint) != 1:
            raise ConversionError(f"uint8 I/O needs per-tensor int8 model I/O; tensor {src.name!r} is not")
        t = schema.TensorT()
        t.shape, t.shapeSignature, t.type, t.buffer = src.shape, src.shapeSignature, _UINT8, 0
        t.name = (src.name.decode() if isinstance(src.name, bytes) else str(src.name)) + "_uint8"
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale = list(src.quantization.scale)
        t.quantization.zeroPoint = [int(src.quantization.zeroPoint[0]) + 128]
        graph.tensors.append(t)
        renamed[index] = len(graph.tensors) - 1
        return renamed[index]

    def quantize_op(src: int, dst: int) -> Any:
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = opcode, [src], [dst]
        return op

    graph.operators = (
        [quantize_op(uint8_twin(i), i) for i in graph.inputs]
        + list(graph.operators)
        + [quantize_op(o, uint8_twin(o)) for o in graph.outputs]
    )
    graph.inputs = [renamed[i] for i in graph.inputs]
    graph.outputs = [renamed[o] for o in graph.outputs]
    for sig_def in m.signatureDefs or []:
        for tensor_map in [*sig_def.inputs, *sig_def.outputs]:
            tensor_map.tensorIndex = renamed.get(tensor_map.tensorIndex, tensor_map.tensorIndex)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def to_tensor(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float32 -> the tensor's dtype (quantised with its scale / zero point when integer)."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return np.ascontiguousarray(x, dtype=dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def from_tensor(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """The tensor's values as float32 (dequantised when integer)."""
    if np.dtype(detail["dtype"]).kind == "f":
        return y.astype(np.float32, copy=False)
    scale, zero = detail["quantization"]
    return ((y.astype(np.float32) - np.float32(zero)) * np.float32(scale)).astype(np.float32)


def psnr_db(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """PSNR of ``a`` against ``b`` (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


def mean_psnr_db(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean PSNR over (quantised output, fp32 output) pairs, in dB (inf only if all are identical)."""
    values = [psnr_db(a, b) for a, b in pairs]
    finite = [v for v in values if np.isfinite(v)]
    if not values:
        raise ValueError("no outputs to compare")
    return float(np.mean(finite)) if finite else float("inf")
