"""YAML definition files (tasks, tracks, manifests, recipes): the strict schema base, and loading
a file validated by a pydantic model whose id must equal the file name."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every definition schema: unknown keys are errors, and a loaded definition is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def load_definition(path: Path, model: type[M], error: type[Exception], kind: str) -> M:
    """Parse and validate ``path`` as ``model``; its ``id`` must equal the file's stem (else ``error``)."""
    try:
        raw: Any = yaml.safe_load(path.read_text())
        definition = model.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise error(f"invalid {kind} file {path}: {exc}") from exc
    if getattr(definition, "id", None) != path.stem:
        raise error(
            f"{kind} file {path} declares id {getattr(definition, 'id', None)!r}; the id must equal the file name"
        )
    return definition


def load_folder(folder: Path, model: type[M], error: type[Exception], kind: str) -> dict[str, M]:
    """Every ``*.yaml`` in ``folder`` (sorted), by id."""
    return {path.stem: load_definition(path, model, error, kind) for path in sorted(folder.glob("*.yaml"))}
