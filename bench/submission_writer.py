"""The one writer of submission folders: every trained, pruned, quantised or searched model leaves
through :func:`write_submission`.

A folder is written whole or replaced whole: the manifest is validated by the schema
(:class:`bench.submission.Manifest`) before anything is touched, the weights are a safetensors
file (``model.safetensors``, raw tensors only), the extras (report, recipe, model card, int8
ranges) are plain text files, and the folder is read back with
:func:`bench.submission.load_submission` (and, for a registered architecture, built with its
weights, strictly) before this returns, so what is written always loads.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from safetensors.torch import save
from torch import Tensor

from bench.errors import SubmissionError
from bench.submission import MANIFEST, Manifest, Submission, load_submission

WEIGHTS = "model.safetensors"
MODEL_CARD = "MODEL_CARD.md"


def manifest_of(fields: Mapping[str, Any], base: Manifest | None = None) -> Manifest:
    """A manifest validated by the schema: ``base``'s fields (a derived model keeps its parent's task
    list, team, licence, ...) with ``fields`` on top."""
    merged = {**(base.model_dump(mode="json", exclude_none=True) if base else {}), **fields}
    try:
        return Manifest.model_validate(merged)
    except ValidationError as exc:
        raise SubmissionError(f"the manifest to write is not valid: {exc}") from exc


@dataclass(frozen=True)
class Weights:
    """A state dict serialised as the bytes of a safetensors file (so its sha256 is known before the
    folder is written, for the model card)."""

    data: bytes

    @classmethod
    def of(cls, state: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> Weights:
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
        return cls(save(tensors, metadata=dict(metadata or {})))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def write_submission(
    folder: Path,
    manifest: Manifest,
    weights: Weights | None = None,
    texts: Mapping[str, str] | None = None,
    copies: Mapping[str, Path] | None = None,
    task_values: Mapping[str, Any] | None = None,
) -> Submission:
    """Write (or replace) the submission folder ``folder``; returns it loaded.

    ``weights`` are saved as :data:`WEIGHTS` (the manifest must name it in ``files.weights``);
    ``texts`` maps file names to their contents, ``copies`` file names to files copied in (a
    missing source is skipped); ``task_values`` (e.g. ``{"scale": 4}``) are those the architecture
    is built with for the strict read-back.
    """
    if (weights is not None) != (manifest.files.weights == WEIGHTS):
        raise SubmissionError(f"a written submission keeps its weights in files.weights = {WEIGHTS}, and only then")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if weights is not None:
        (folder / WEIGHTS).write_bytes(weights.data)
    document = manifest.model_dump(mode="json", exclude_none=True)
    (folder / MANIFEST).write_text(yaml.safe_dump(document, sort_keys=False, width=100))
    for name, text in (texts or {}).items():
        (folder / name).write_text(text)
    for name, source in (copies or {}).items():
        if source.is_file():
            shutil.copyfile(source, folder / name)
    written = load_submission(folder)
    if manifest.format == "safetensors":
        written.build(dict(task_values or {}))  # what was written must load, strictly
    return written
