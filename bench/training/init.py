"""Initial weights for a run: a safetensors file or a submission folder, loaded strictly or where names match.

``init: {weights: PATH, match: all}`` (the default) needs every tensor of the model, with its exact
shape, and nothing else: fine-tuning a trained model under a new recipe. ``match: matching`` copies
the tensors whose name and shape both match and leaves the others as the architecture initialised
them: a warm start of a rewritten model (``bench optimize lightweight``) from the baseline it came
from, where the head, tail and untouched layers keep their names. Weights are read with
safetensors only: no pickle is ever loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from bench.paths import CHECKOUT


class InitError(ValueError):
    """The initial weights are missing, unreadable, or do not fit the model."""


@dataclass(frozen=True)
class InitReport:
    source: Path
    copied: int  # tensors copied into the model
    total: int  # tensors in the model's state dict


def resolve_weights(weights: str | Path) -> Path:
    """The safetensors file named by ``weights``: a file, or a submission folder's ``files.weights``.

    Relative paths resolve against the checkout (as ``data.folder`` does).
    """
    path = Path(weights).expanduser()
    path = path if path.is_absolute() else (CHECKOUT / path).resolve()
    if path.is_dir():
        from bench.submission import SubmissionError, load_submission, safe_path

        try:
            manifest = load_submission(path).manifest
        except SubmissionError as exc:
            raise InitError(f"init.weights: {exc}") from exc
        if manifest.files.weights is None:
            raise InitError(f"init.weights: submission {path} names no weights file (files.weights)")
        path = safe_path(path, manifest.files.weights)
    if not path.is_file():
        raise InitError(f"init.weights: {path} is neither a safetensors file nor a submission folder")
    return path


def load_initial_weights(model: nn.Module, weights: str | Path, match: str = "all") -> InitReport:
    """Copy weights into ``model`` (in place, so an optimiser built on its parameters stays valid)."""
    path = resolve_weights(weights)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InitError(f"init.weights: {path} is not a readable safetensors file ({exc})") from exc
    own = model.state_dict()
    if match == "all":
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
        if missing or extra or shapes:
            raise InitError(
                f"init.weights: {path} does not fit the architecture (missing {missing[:4]}, unexpected {extra[:4]}, "
                f"other shapes {shapes[:4]}); use init.match: matching to copy only the tensors that fit"
            )
        chosen = state
    else:
        chosen = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not chosen:
            raise InitError(f"init.weights: no tensor of {path} matches the model by name and shape")
    with torch.no_grad():
        for name, tensor in chosen.items():
            own[name].copy_(tensor.to(own[name].dtype))
    return InitReport(path, len(chosen), len(own))
