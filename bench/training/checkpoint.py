"""Checkpoints without pickle: every tensor in one safetensors file, everything else in a JSON sidecar.

``checkpoints/step-00001000.safetensors`` holds ``model.<name>`` (parameters and buffers),
``optim.<param index>.<key>`` (Adam's ``step``, ``exp_avg``, ``exp_avg_sq``) and ``rng.torch`` /
``rng.cuda.<i>`` (generator states as uint8 tensors). ``step-00001000.json`` holds the step, the
optimiser's param groups and non-tensor state, the effective recipe (the learning rate is a pure
function of the step and the recipe's schedule, so the step is the scheduler's whole state), the
wall time so far and the sha256 of the tensor file (checked on load). Tensors are saved exactly,
so a resumed run on CPU continues bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from bench.errors import CheckpointError

CHECKPOINT_DIR = "checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    step: int
    tensors: Path
    sidecar: Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """Optimiser/scheduler values as JSON (tuples -> lists; tensors are never expected here)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        raise TypeError("tensors go to the safetensors file, not the JSON sidecar")
    return value


def save_checkpoint(
    folder: Path,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    extra: dict[str, Any],
) -> Checkpoint:
    """Write step ``step``'s checkpoint into ``folder/checkpoints`` (tensor file first, then the sidecar)."""
    where = folder / CHECKPOINT_DIR
    where.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()
    }
    state = optimizer.state_dict()
    plain_state: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().to("cpu").contiguous().clone()
            else:
                plain_state.setdefault(str(index), {})[key] = _plain(value)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = rng
    stem = f"step-{step:08d}"
    tensor_path, sidecar = where / f"{stem}.safetensors", where / f"{stem}.json"
    partial = tensor_path.with_suffix(".safetensors.partial")
    save_file(tensors, str(partial))
    partial.replace(tensor_path)
    record = {
        "step": step,
        "sha256": sha256_file(tensor_path),
        "optimizer": {"param_groups": _plain(state["param_groups"]), "state": plain_state},
        **extra,
    }
    sidecar.write_text(json.dumps(record, indent=2))
    return Checkpoint(step, tensor_path, sidecar)


def latest_checkpoint(folder: Path) -> Checkpoint | None:
    """The highest-step checkpoint in ``folder/checkpoints`` whose sidecar was written (None if there is none)."""
    found = []
    for sidecar in (folder / CHECKPOINT_DIR).glob("step-*.json"):
        tensors = sidecar.with_suffix(".safetensors")
        if tensors.is_file():
            found.append(Checkpoint(int(sidecar.stem.split("-")[1]), tensors, sidecar))
    return max(found, key=lambda c: c.step) if found else None


def load_checkpoint(
    checkpoint: Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> dict[str, Any]:
    """Restore model, optimiser and RNG states in place; returns the sidecar record."""
    record: dict[str, Any] = json.loads(checkpoint.sidecar.read_text())
    if sha256_file(checkpoint.tensors) != record.get("sha256"):
        raise CheckpointError(f"checkpoint {checkpoint.tensors} does not match the sha256 in its sidecar (damaged?)")
    tensors = load_file(str(checkpoint.tensors))
    model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {checkpoint.tensors} does not fit the recipe's architecture: {exc}") from exc
    optim_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim_state.setdefault(int(index), {})[name] = value  # load_state_dict moves it to the param's device
    for index, entries in record["optimizer"]["state"].items():
        optim_state.setdefault(int(index), {}).update(entries)
    optimizer.load_state_dict({"state": optim_state, "param_groups": record["optimizer"]["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])
    return record
