"""Submission folders: the ``submission.yaml`` manifest, its validation, and safe model loading.

Safety rules: no pickle anywhere (weights are read with ``safetensors``, which stores raw
tensors only), no Python imported from the submission (architectures come from the project's
registry), every file path confined to the folder (no absolute paths, no ``..``, no symlink that
leaves it), and a size limit per file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from bench.definitions import Strict, validated
from bench.errors import SubmissionError
from bench.models import build_model
from bench.registry import UnknownName

MANIFEST = "submission.yaml"
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_MANIFEST_BYTES = 64 * 1024
MODEL_CARD_FILE = "MODEL_CARD.md"
MODEL_CARD_LIMIT = 20_000  # characters of a model card kept with a result (the board shows it as plain text)
MAX_PARAMETERS = 200_000_000  # 800 MB of fp32 weights, far above any efficient restoration model


class Architecture(Strict):
    name: str = Field(description="an architecture registered in bench.models")
    args: dict[str, Any] = Field(default_factory=dict)


class Files(Strict):
    weights: str | None = Field(None, description="safetensors file; omitted only for parameter-free models")
    model: str | None = Field(None, description="the model file of an onnx, tflite or torch-export submission")
    timing_model: str | None = Field(
        None, description="a second, fixed-shape file used only for latency (tracks such as Mobile AI ask for two)"
    )
    quantization: str | None = Field(
        None, description="int8 activation ranges (JSON, from bench optimize quantize) of a safetensors submission"
    )


FORMAT_SUFFIX: dict[str, tuple[str, ...]] = {
    "onnx": (".onnx",),
    "tflite": (".tflite",),
    "torch-export": (".pt2",),
    "keras": (".keras", ".h5"),
    "saved_model": ("",),  # a folder holding saved_model.pb and variables/
}
QUANTIZED_DEVICE = {"fp16": "cpu-tflite-fp16", "int8": "cpu-tflite-int8"}
FORMAT_DEVICE = {
    "safetensors": "cpu-torch",
    "onnx": "cpu-onnxruntime",
    "tflite": "cpu-tflite",
    "torch-export": "cpu-torch",
    "keras": "cpu-tflite",
    "saved_model": "cpu-tflite",
}
NATIVE_LAYOUT = {"safetensors": "NCHW", "torch-export": "NCHW", "onnx": "NCHW", "tflite": "NHWC", "keras": "NHWC",
                 "saved_model": "NHWC"}  # fmt: skip


class IOContract(Strict):
    """What the model file takes and returns. ``layout``: the order of its input and output axes (default: the
    format's own, NCHW for PyTorch and ONNX, NHWC for TFLite and Keras); ``colour``: ``RGB`` (three channels),
    ``Y`` (one channel, the MATLAB BT.601 luma of the input, 16/255..235/255, compared on Y) or ``grey`` (one
    channel, the mean of the input's RGB; for grey tasks); ``range``: [0, 1] or [0, 255] pixel values."""

    range: tuple[float, float] = (0.0, 1.0)
    layout: Literal["NCHW", "NHWC"] | None = None
    colour: Literal["RGB", "Y", "grey"] = "RGB"

    @model_validator(mode="after")
    def _range(self) -> IOContract:
        if self.range not in ((0.0, 1.0), (0.0, 255.0)):
            raise ValueError(f"io.range must be [0, 1] or [0, 255], not {list(self.range)}")
        return self

    @property
    def channels(self) -> int:
        """Channels of the model's input and output: 3 for RGB, 1 for Y or grey."""
        return 3 if self.colour == "RGB" else 1


class Manifest(Strict):
    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=100)
    team: str = Field(min_length=1, max_length=100)
    tasks: list[str] = Field(min_length=1, description="task ids or fnmatch patterns, e.g. sr-set5-*")
    format: Literal["safetensors", "onnx", "tflite", "torch-export", "keras", "saved_model"]
    architecture: Architecture | None = Field(None, description="registered architecture (safetensors only)")
    files: Files = Field(default_factory=Files)
    io: IOContract = Field(default_factory=IOContract)
    precision: Literal["fp32", "fp16", "int8"] = "fp32"
    tags: list[str] = Field(default_factory=list)
    derived_from: str | None = None
    reproduces: str | None = Field(None, description="id of a reported model (reported/*.yaml) this reimplements")
    training_data: str | None = None
    licence: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _format_files(self) -> Manifest:
        if self.format == "safetensors":
            if self.architecture is None:
                raise ValueError("format safetensors needs 'architecture' (a name from the project's registry)")
            if self.files.model is not None:
                raise ValueError("format safetensors takes files.weights, not files.model")
        else:
            suffixes = FORMAT_SUFFIX[self.format]
            if self.architecture is not None:
                raise ValueError(f"format {self.format} carries its own graph; remove 'architecture'")
            if self.format == "saved_model":
                if self.files.model is None:
                    raise ValueError("format saved_model needs files.model naming the SavedModel folder")
            elif self.files.model is None or not self.files.model.lower().endswith(suffixes):
                raise ValueError(f"format {self.format} needs files.model naming a {' or '.join(suffixes)} file")
        layout = self.io.layout or NATIVE_LAYOUT[self.format]
        if layout != NATIVE_LAYOUT[self.format] and self.format not in ("onnx", "tflite"):
            raise ValueError(f"a {self.format} model is {NATIVE_LAYOUT[self.format]}; io.layout {layout} is for "
                             "ONNX and TFLite files")  # fmt: skip
        if self.files.timing_model is not None and (
            self.format not in ("onnx", "tflite")
            or not self.files.timing_model.lower().endswith(FORMAT_SUFFIX[self.format])
        ):
            raise ValueError("files.timing_model must be a file of the submission's own format (onnx or tflite)")
        if self.format == "safetensors" and (self.precision == "int8") != (self.files.quantization is not None):
            raise ValueError(
                "a safetensors submission with precision int8 names its activation ranges in files.quantization "
                "(bench optimize quantize writes both); an fp32 or fp16 one names none"
            )
        if self.files.quantization is not None and self.format != "safetensors":
            raise ValueError(f"files.quantization is for safetensors submissions; a {self.format} file carries its own")
        return self

    @property
    def layout(self) -> str:
        """The model file's axis order: ``io.layout``, or the format's own."""
        return self.io.layout or NATIVE_LAYOUT[self.format]

    @property
    def contract(self) -> IOContract:
        """``io`` with the layout resolved (what the runtime applies)."""
        return self.io.model_copy(update={"layout": self.layout})

    def declares(self, task_id: str) -> bool:
        return any(fnmatch.fnmatchcase(task_id, pattern) for pattern in self.tasks)


class Submission(BaseModel):
    """A validated submission folder."""

    model_config = ConfigDict(frozen=True)

    folder: Path
    manifest: Manifest
    sha256: str

    def model(self, task_values: dict[str, Any]) -> nn.Module | Path:
        """A PyTorch module (safetensors + registered architecture, or a vetted torch-export .pt2) or
        the path of an ONNX / TFLite model file."""
        if self.manifest.format == "safetensors":
            return self.build(task_values)
        assert self.manifest.files.model is not None
        if self.manifest.format == "saved_model":
            return safe_dir(self.folder, self.manifest.files.model)
        path = safe_path(self.folder, self.manifest.files.model)
        if self.manifest.format == "torch-export":  # never torch.export.load on the user's file: see torch_export
            from bench.torch_export import UnsafeExport, load_exported  # torch.export costs ~0.9 s to import

            try:
                return load_exported(path, MAX_FILE_BYTES)
            except UnsafeExport as exc:
                raise SubmissionError(f"submission {self.folder}: {exc}") from exc
        return path

    def model_card(self) -> str | None:
        """The folder's ``MODEL_CARD.md`` as text (undecodable bytes replaced, cut at MODEL_CARD_LIMIT
        characters), or None without one. Data only: the board shows it as plain text, never as Markdown."""
        path = self.folder / MODEL_CARD_FILE
        if path.is_symlink() or not path.is_file():
            return None
        with path.open("rb") as handle:
            text = handle.read(4 * MODEL_CARD_LIMIT).decode("utf-8", errors="replace")
        return text[:MODEL_CARD_LIMIT]

    def timing_model(self) -> Path | None:
        """The separate fixed-shape latency model, if the submission has one."""
        timing = self.manifest.files.timing_model
        return safe_path(self.folder, timing) if timing else None

    @property
    def default_device(self) -> str:
        """The device that runs this format natively (used for quality when none is given): a quantised
        safetensors submission runs through TFLite at its precision (cpu-tflite-fp16 / cpu-tflite-int8)."""
        if self.quantized:
            return QUANTIZED_DEVICE[self.manifest.precision]
        return FORMAT_DEVICE[self.manifest.format]

    @property
    def quantized(self) -> bool:
        """A safetensors submission declaring fp16 or int8: its weights are fp32, its deployed model is not."""
        return self.manifest.format == "safetensors" and self.manifest.precision != "fp32"

    def quantization_ranges(self) -> dict[str, Any] | None:
        """The stored int8 activation ranges (files.quantization), checked; None when there are none."""
        relative = self.manifest.files.quantization
        if relative is None:
            return None
        from bench.runtime.quantize import ranges_from_json

        path = safe_path(self.folder, relative)
        try:
            return ranges_from_json(json.loads(path.read_text()))
        except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
            raise SubmissionError(f"submission {self.folder}: {relative} is not valid int8 ranges: {exc}") from exc

    def ghost(self, task_values: dict[str, Any]) -> nn.Module | None:
        """The registered architecture built on the meta device (shapes only, nothing allocated), refused over
        :data:`MAX_PARAMETERS`; None for a format that carries its own graph. :mod:`bench.budgets` costs
        each call on it before the real model runs."""
        arch = self.manifest.architecture
        if arch is None:
            return None
        try:
            with torch.device("meta"):
                ghost = build_model(arch.name, arch.args, task_values)
        except (UnknownName, ValueError) as exc:
            raise SubmissionError(f"submission {self.folder}: {exc}") from exc
        count = sum(p.numel() for p in ghost.parameters())
        if count > MAX_PARAMETERS:
            raise SubmissionError(
                f"submission {self.folder}: architecture {arch.name!r} with these arguments has {count:,} "
                f"parameters, over the budget of {MAX_PARAMETERS:,}; nothing was allocated"
            )
        return ghost

    def build(self, task_values: dict[str, Any]) -> nn.Module:
        """The model with its weights, from the project's registry; never code from the folder."""
        arch = self.manifest.architecture
        if arch is None:
            raise SubmissionError(f"submission {self.folder} is a {self.manifest.format} file, not a PyTorch module")
        self.ghost(task_values)  # the size first, allocating nothing: a 150-byte manifest can ask for GBs
        try:
            model = build_model(arch.name, arch.args, task_values)
        except (UnknownName, ValueError) as exc:
            raise SubmissionError(f"submission {self.folder}: {exc}") from exc
        weights = self.manifest.files.weights
        has_params = any(True for _ in model.parameters())
        if weights is None:
            if has_params:
                raise SubmissionError(
                    f"submission {self.folder}: architecture {arch.name!r} has parameters but the manifest "
                    "names no weights file (files.weights)"
                )
            return model.eval()
        path = safe_path(self.folder, weights)
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise SubmissionError(
                f"submission {self.folder}: weights file {weights} is not a readable safetensors file ({exc}); "
                "only safetensors weights are accepted (pickled .pt/.pth files are never loaded)"
            ) from exc
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise SubmissionError(
                f"submission {self.folder}: weights in {weights} do not fit architecture {arch.name!r}: {exc}"
            ) from exc
        return model.eval()


def safe_dir(folder: Path, relative: str) -> Path:
    """A SavedModel folder inside the submission: every file under it passes :func:`safe_path`."""
    if relative in ("", ".") or "\x00" in relative:
        raise SubmissionError(f"submission {folder}: files.model must name the SavedModel folder inside it")
    inside = [f for f in runtime_files(folder, None) if f.startswith(relative.rstrip("/") + "/")]
    path = folder / relative
    if not path.is_dir() or f"{relative.rstrip('/')}/saved_model.pb" not in inside:
        raise SubmissionError(f"submission {folder}: {relative!r} is not a SavedModel folder (no saved_model.pb)")
    for name in inside:
        safe_path(folder, name)
    return path


def safe_path(folder: Path, relative: str) -> Path:
    """``folder / relative``, refusing absolute paths, ``..``, symlinks out, missing or huge files."""
    if "\x00" in relative or len(relative) > 255 or any(len(part) > 255 for part in Path(relative).parts):
        raise SubmissionError(f"submission {folder}: file path {relative[:80]!r} is not a usable file name")
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise SubmissionError(
            f"submission {folder}: file path {relative!r} must be relative and stay inside the folder"
        )
    path = folder / candidate
    root = folder.resolve()
    try:
        inside = path.resolve(strict=False).is_relative_to(root)
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable link
        raise SubmissionError(f"submission {folder}: file {relative!r} cannot be resolved ({exc})") from None
    if not inside:
        raise SubmissionError(f"submission {folder}: file {relative!r} is a link that leaves the submission folder")
    if not path.is_file():
        raise SubmissionError(f"submission {folder}: file {relative!r} named in the manifest does not exist")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SubmissionError(
            f"submission {folder}: file {relative!r} is {size} bytes, over the {MAX_FILE_BYTES} limit"
        )
    return path


MAX_FOLDER_FILES = 1000


def runtime_files(folder: Path, manifest: Manifest | None) -> list[str]:
    """Every file a runtime may open besides the named ones: for ONNX, whose tensors may live in external
    data files anywhere in the folder (``model.onnx.data``, as torch's exporter writes), and a SavedModel
    (a folder of files), every regular file of the folder except the manifest; none for the other formats,
    which read only the files they name. ``manifest`` None: every file."""
    if manifest is not None and manifest.format not in ("onnx", "saved_model"):
        return []
    found: list[str] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            relative = (Path(root) / name).relative_to(folder).as_posix()
            if relative != MANIFEST:
                found.append(relative)
        if len(found) > MAX_FOLDER_FILES:
            raise SubmissionError(f"submission {folder} holds more than {MAX_FOLDER_FILES} files")
    return found


def named_files(manifest: Manifest) -> set[str]:
    """The files the manifest names (a SavedModel folder's files come from :func:`runtime_files`)."""
    named = {f for f in manifest.files.model_dump().values() if f}
    if manifest.format == "saved_model" and manifest.files.model:
        named.discard(manifest.files.model)
    return named


def _digest(folder: Path, manifest_bytes: bytes, manifest: Manifest) -> str:
    """sha256 over the manifest bytes and every file a runtime may read (name, then contents): the named
    files and, for ONNX, every other file of the folder (:func:`runtime_files`)."""
    h = hashlib.sha256(manifest_bytes)
    named = named_files(manifest)
    for relative in sorted(named | set(runtime_files(folder, manifest))):
        h.update(relative.encode())
        with safe_path(folder, relative).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def load_submission(folder: str | Path) -> Submission:
    """Read and check a submission folder's manifest and files (raises :class:`SubmissionError`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"submission folder not found: {folder}")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise SubmissionError(
            f"submission {folder} has no {MANIFEST}; a submission is a folder with {MANIFEST} and its model files"
        )
    manifest_path = safe_path(folder, MANIFEST)  # a plain file inside the folder, not a link out of it
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise SubmissionError(f"submission {folder}: {MANIFEST} is over {MAX_MANIFEST_BYTES} bytes")
    manifest_bytes = manifest_path.read_bytes()
    try:
        raw = yaml.safe_load(manifest_bytes)
    except yaml.YAMLError as exc:
        raise SubmissionError(f"submission {folder}: {MANIFEST} is not valid YAML: {exc}") from exc
    except RecursionError:
        raise SubmissionError(f"submission {folder}: {MANIFEST} is nested too deeply to be a manifest") from None
    manifest = validated(raw, Manifest, SubmissionError, f"submission {folder}: {MANIFEST}")
    if manifest.reproduces is not None:
        from bench.reported import reported_models

        known = reported_models()
        if manifest.reproduces not in known:
            raise SubmissionError(f"submission {folder}: reproduces {manifest.reproduces[:80]!r} is not a reported "
                                  f"model; known: {', '.join(known)}")  # fmt: skip
    return Submission(folder=folder, manifest=manifest, sha256=_digest(folder, manifest_bytes, manifest))
