"""Keras (``.keras``, legacy ``.h5``) and SavedModel submissions converted to TFLite by TensorFlow's own
``TFLiteConverter``, without importing any Python from the submission.

Safety: before Keras reads a file, its model configuration (``config.json`` inside a ``.keras`` zip, the
``model_config`` attribute of an ``.h5``) is read as plain JSON and refused when it names a ``Lambda``
layer (Python bytecode), a class outside Keras (``module`` not ``keras...``) or a registered custom
object; Keras then loads it with ``safe_mode=True`` and ``compile=False``. A SavedModel is never
executed for conversion: the converter reads its graph and accepts only TFLite builtin ops
(``TFLITE_BUILTINS``, no ``SELECT_TF_OPS``), so file or network ops cannot survive into the model.

Precisions (``TFLiteConverter.optimizations``): ``fp32`` as is; ``fp16``: float16 weights
(``target_spec.supported_types``); ``int8``: full-integer with a representative data set of the task's
calibration images (NHWC, float32 in the model's range), integer-only builtins, and ``uint8`` I/O when
asked (the Mobile AI rule). TensorFlow is imported only here, lazily (about 4 s).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import SubmissionError
from bench.runtime.errors import BackendUnavailable, ConversionError

REFUSED_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _tensorflow() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise BackendUnavailable(f"TensorFlow is not installed ({exc}); bash scripts/install.sh installs it") from exc
    return tf


def keras_config(path: Path) -> Any:
    """The model configuration of a ``.keras`` or ``.h5`` file, read as JSON (no Keras, no Python objects)."""
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                info = archive.getinfo("config.json")
                if info.file_size > MAX_CONFIG_BYTES:
                    raise SubmissionError(f"{path.name}: config.json is {info.file_size} bytes, over the limit")
                return json.loads(archive.read(info))
        import h5py

        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
        if raw is None:
            raise SubmissionError(f"{path.name} holds no model_config: save the whole model, not only weights")
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SubmissionError(f"{path.name} is not a readable Keras model file ({type(exc).__name__}: {exc})") from exc


def check_keras_config(config: Any, name: str) -> None:
    """Refuse a configuration that would run Python of the submission (see the module's docstring)."""
    stack, seen = [config], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > 1_000_000:
            raise SubmissionError(f"{name}: the model configuration is too large to check")
        if isinstance(node, list):
            stack.extend(node)
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        cls, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
        if not isinstance(cls, str):
            continue
        if cls in REFUSED_LAYERS:
            raise SubmissionError(
                f"{name}: layer class {cls} carries Python code, which bench never runs; replace it with built-in "
                "Keras layers (for pixel shuffle: Conv2D then keras.layers.Reshape/Permute, or Conv2DTranspose)"
            )
        if isinstance(module, str) and not (module == "keras" or module.startswith("keras.")):
            raise SubmissionError(
                f"{name}: class {cls} comes from module {module[:80]!r}; only Keras's own layers load"
            )
        if isinstance(registered, str) and ">" in registered:  # package>Name: registered by the author's code
            raise SubmissionError(f"{name}: custom object {registered[:80]!r} needs the author's code; refused")


def load_keras(path: Path) -> Any:
    """The Keras model of ``path``, after :func:`check_keras_config`, with ``safe_mode=True``."""
    check_keras_config(keras_config(path), path.name)
    _tensorflow()
    import keras

    try:
        return keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises TypeError/ValueError for unknown classes and bad files
        detail = " ".join(str(exc).split())[:500]
        raise SubmissionError(f"Keras cannot load {path.name}: {type(exc).__name__}: {detail}") from exc


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and (path / "saved_model.pb").is_file()


def reference_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """NHWC float32 -> NHWC float32 through the original Keras model or SavedModel serving signature."""
    tf = _tensorflow()
    if is_saved_model(path):
        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures.get("serving_default")
        if signature is None:
            raise SubmissionError(f"SavedModel {path.name} has no serving_default signature")

        def run_signature(x: np.ndarray) -> np.ndarray:
            outputs = signature(tf.constant(x))
            return np.asarray(next(iter(outputs.values())), dtype=np.float32)

        return run_signature
    model = load_keras(path)
    return lambda x: np.asarray(model(x, training=False), dtype=np.float32)


def convert(
    path: Path,
    precision: str = "fp32",
    representative: list[np.ndarray] | None = None,
    uint8_io: bool = False,
    shape: tuple[int, ...] | None = None,
) -> bytes:
    """``path`` (a ``.keras`` / ``.h5`` file or a SavedModel folder) as a TFLite flatbuffer at ``precision``;
    ``representative``: NHWC float32 batches for int8 calibration (required for int8). A Keras model is
    exported with the input shape of its ``Input`` (dynamic height and width where it declares None), or at
    NHWC ``shape`` when given (a layer that Keras cannot export with dynamic sizes)."""
    if path.is_file():  # refused before TensorFlow is even imported
        check_keras_config(keras_config(path), path.name)
    tf = _tensorflow()
    if is_saved_model(path):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(path))
    elif path.is_file():  # Keras 3's own road to TFLite: export a SavedModel, convert that
        with tempfile.TemporaryDirectory(prefix="bench-keras-") as folder:
            try:
                signature = None if shape is None else [tf.TensorSpec(shape, tf.float32)]
                load_keras(path).export(folder, format="tf_saved_model", verbose=False, input_signature=signature)
            except SubmissionError:
                raise
            except Exception as exc:  # Keras raises ValueError/TypeError for models it cannot trace
                detail = " ".join(str(exc).split())[:500]
                raise ConversionError(f"Keras cannot export {path.name} for conversion: {detail}") from exc
            return convert(Path(folder), precision, representative, uint8_io)
    else:
        raise SubmissionError(f"{path.name} is neither a Keras file nor a SavedModel folder (saved_model.pb)")
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        if not representative:
            raise ConversionError("int8 conversion needs calibration images (--calibration)")

        def batches() -> Iterator[list[np.ndarray]]:
            for batch in representative:
                yield [np.ascontiguousarray(batch, dtype=np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = batches
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.uint8 if uint8_io else tf.int8
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and friends with MLIR diagnostics
        detail = " ".join(str(exc).split())[:600]
        raise ConversionError(
            f"TensorFlow's TFLiteConverter cannot convert {path.name} ({precision}): {detail}"
        ) from exc
