"""What the cases of the hostile corpus share (tests/hostile/__init__.py says what a case is): the
:class:`Attempt` a case returns, the :func:`case` registry, and builders of submission folders, manifests
and ONNX graphs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import onnx
import torch
from onnx import TensorProto, helper
from safetensors.torch import save_file

from tests.conftest import REPO

TASK = "denoise-demo-s25"
GOOD = f"name: h\nteam: t\ntasks: [{TASK}]\nformat: safetensors\narchitecture: {{name: identity}}\n"
ONNX_GOOD = f"name: h\nteam: t\ntasks: [{TASK}]\nformat: onnx\nfiles: {{model: m.onnx}}\n"


@dataclass(frozen=True)
class Attempt:
    """``argv`` after ``bench``; the refusal must contain ``expect`` (whitespace-normalised); ``db``: the store
    URL to use instead of the case's copy (that copy then must not change either); ``env``: extra variables."""

    argv: list[str]
    expect: str
    db: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    full_disk: bool = False  # the scorer runs with RLIMIT_FSIZE at the store's size (writes fail with EFBIG)
    keeps_unfinished: bool = False  # the store gains only an unfinished run (it cannot even be removed)


CASES: dict[str, Callable[[Path], Attempt]] = {}


def case(name: str) -> Callable[[Callable[[Path], Attempt]], Callable[[Path], Attempt]]:
    def register(build: Callable[[Path], Attempt]) -> Callable[[Path], Attempt]:
        assert name not in CASES, name
        CASES[name] = build
        return build

    return register


def folder(root: Path, manifest: str | None = GOOD) -> Path:
    sub = root / "sub"
    sub.mkdir(exist_ok=True)
    if manifest is not None:
        (sub / "submission.yaml").write_text(manifest)
    return sub


def score(sub: Path, *extra: str) -> list[str]:
    return ["score", str(sub), "--task", TASK, "--quick", *extra]


def scored(root: Path, manifest: str, expect: str, *extra: str) -> Attempt:
    return Attempt(score(folder(root, manifest), *extra), expect)


def arch(name: str, args: str = "{}", weights: str | None = None) -> str:
    files = f"files: {{weights: {weights}}}\n" if weights else ""
    return GOOD.replace("{name: identity}", f"{{name: {name}, args: {args}}}") + files


def save_onnx(path: Path, nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto] | None = None,
              shape: list[object] | None = None, opset: int = 17, outputs: int = 1) -> None:  # fmt: skip
    dims = shape or [1, 3, "h", "w"]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(f"y{i}" if i else "y", TensorProto.FLOAT, dims) for i in range(outputs)],
        inits or [],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def save_wide(path: Path, channels: int) -> None:
    """Weights of ``test-wide`` (3 -> ``channels`` -> 3 with 1x1 convolutions), all zero."""
    save_file({"body.0.weight": torch.zeros(channels, 3, 1, 1), "body.0.bias": torch.zeros(channels),
               "body.1.weight": torch.zeros(3, channels, 1, 1), "body.1.bias": torch.zeros(3)}, str(path))  # fmt: skip


def onnx_case(root: Path, nodes: list[onnx.NodeProto], expect: str, *extra: str, **kw: object) -> Attempt:
    sub = folder(root, ONNX_GOOD)
    save_onnx(sub / "m.onnx", nodes, **kw)  # type: ignore[arg-type]
    return Attempt(score(sub, *extra), expect)


IDENTITY = REPO / "submissions" / "baselines" / "identity"
