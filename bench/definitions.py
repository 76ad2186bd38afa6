"""YAML definition files (tasks, tracks, manifests, recipes): the strict schema base, and loading
a file validated by a pydantic model whose id must equal the file name.

A definition may start from another file, as lm-evaluation-harness task configs do::

    include: _base/sr-bicubic.yaml     # relative to this file
    id: sr-b100-x2
    data: {path: B100/HR}              # mappings merge key by key; anything else replaces

The included file is read first (it may include another, up to :data:`MAX_INCLUDE_DEPTH` deep, never
itself), then this file's keys are merged over it. Base files live in a subfolder (``tasks/_base``)
so that they are not definitions of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every definition schema: unknown keys are errors, and a loaded definition is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def explain(exc: ValidationError) -> str:
    """A pydantic validation error in one line a user can act on: each problem's key and what is wrong."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown key {where!r}")
        elif error["type"] == "literal_error":
            parts.append(f"{where}: {error['msg']} (got {error['input']!r})")
        else:
            parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def validated(raw: Any, model: type[M], error: type[Exception], where: str) -> M:
    """``raw`` (parsed YAML) validated as ``model``; ``error`` naming ``where`` and every problem otherwise."""
    if not isinstance(raw, dict):
        raise error(f"{where} is empty or not a mapping of keys to values")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error(f"{where} is invalid: {explain(exc)}") from None


INCLUDE = "include"
MAX_INCLUDE_DEPTH = 8


def merged(base: Any, override: Any) -> Any:
    """``override`` over ``base``: mappings merge key by key (recursively), anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: merged(base[k], v) if k in base else v for k, v in override.items()}}
    return override


def read_definition(path: Path, chain: tuple[Path, ...] = ()) -> Any:
    """The YAML content of ``path`` with its ``include`` chain resolved (see the module docstring)."""
    raw: Any = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict) or INCLUDE not in raw:
        return raw
    include = raw.pop(INCLUDE)
    if not isinstance(include, str) or not include.endswith((".yaml", ".yml")):
        raise ValueError(f"'{INCLUDE}' must name a YAML file relative to {path.parent}, got {include!r}")
    base = (path.parent / include).resolve()
    if base in (*chain, path.resolve()):
        raise ValueError(f"{path} includes {include}, which includes it again")
    if len(chain) >= MAX_INCLUDE_DEPTH:
        raise ValueError(f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH} files")
    return merged(read_definition(base, (*chain, path.resolve())), raw)


def load_definition(path: Path, model: type[M], error: type[Exception], kind: str) -> M:
    """Parse and validate ``path`` as ``model``; its ``id`` must equal the file's stem (else ``error``)."""
    try:
        raw = read_definition(path)
    except (yaml.YAMLError, ValueError, OSError) as exc:
        raise error(f"invalid {kind} file {path}: {exc}") from exc
    definition = validated(raw, model, error, f"{kind} file {path}")
    if getattr(definition, "id", None) != path.stem:
        raise error(
            f"{kind} file {path} declares id {getattr(definition, 'id', None)!r}; the id must equal the file name"
        )
    return definition


def load_folder(folder: Path, model: type[M], error: type[Exception], kind: str) -> dict[str, M]:
    """Every ``*.yaml`` in ``folder`` (sorted), by id."""
    return {path.stem: load_definition(path, model, error, kind) for path in sorted(folder.glob("*.yaml"))}
