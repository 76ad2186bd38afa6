"""PyTorch-export (.pt2) submissions: loading, dynamic shapes, and refusal of tampered archives."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shlex
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.export import Dim
from torch.export.pt2_archive import PT2ArchiveWriter
from torch.nn import functional as F

from bench.torch_export import ExportError, UnsafeExport, _check_loaded, load_exported

LIMIT = 64 * 1024 * 1024
GRAPH = "models/model.json"


@torch.library.custom_op("benchtest::scale", mutates_args=())
def _scale(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@_scale.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class Net(nn.Module):
    def __init__(self, custom: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.custom = custom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shuffle(torch.relu(self.conv(x)))
        return torch.ops.benchtest.scale(y) if self.custom else y


class PadNet(Net):
    """Pads to a multiple of 8 like many restoration nets; exported with Dim.DYNAMIC, torch records guards."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (8 - w % 8) % 8, 0, (8 - h % 8) % 8), mode="reflect")
        return super().forward(x)[..., : 2 * h, : 2 * w]


class Command:
    """A pickle that runs a shell command when unpickled."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


def _export(path: Path, model: nn.Module, dynamic: bool = True) -> Path:
    x = torch.rand(1, 3, 16, 20)
    shapes = ({2: Dim("H", min=4, max=1024), 3: Dim("W", min=4, max=1024)},) if dynamic else None
    torch.export.save(torch.export.export(model.eval(), (x,), dynamic_shapes=shapes), path)
    return path


@pytest.fixture(scope="module")
def model() -> Net:
    torch.manual_seed(0)
    return Net().eval()


@pytest.fixture(scope="module")
def dynamic_pt2(tmp_path_factory: pytest.TempPathFactory, model: Net) -> Path:
    return _export(tmp_path_factory.mktemp("export") / "dynamic.pt2", model)


def _tamper(src: Path, dst: Path, edit: Callable[[dict[str, bytes]], object]) -> Path:
    """Copy a .pt2 archive through ``edit`` (member name under the root folder -> bytes), as torch writes it."""
    with zipfile.ZipFile(src) as archive:
        members = {i.filename.split("/", 1)[1]: archive.read(i) for i in archive.infolist()}
    members = {n: b for n, b in members.items() if n not in ("byteorder", ".data/version", ".data/serialization_id")}
    edit(members)
    with PT2ArchiveWriter(str(dst)) as writer:
        for name, payload in members.items():
            writer.write_bytes(name, payload)
    return dst


def _edit_graph(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        graph = json.loads(members[GRAPH])
        change(graph)
        members[GRAPH] = json.dumps(graph).encode()

    return edit


def _pickled_weight(payload: bytes) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        config = json.loads(members["data/weights/model_weights_config.json"])
        config["config"]["conv.weight"]["use_pickle"] = True
        members["data/weights/model_weights_config.json"] = json.dumps(config).encode()
        members["data/weights/" + config["config"]["conv.weight"]["path_name"]] = payload

    return edit


def _opaque_constant(payload: bytes) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        meta = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True, "tensor_meta": None}
        members["data/constants/model_constants_config.json"] = json.dumps({"config": {"evil": meta}}).encode()
        members["data/constants/opaque_obj_0"] = payload

    return edit


def _rename(obj: Any, old: str, new: str) -> Any:
    if isinstance(obj, dict):
        return {(new if k == old else k): _rename(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rename(v, old, new) for v in obj]
    return new if obj == old else obj


def _first_expr(graph: dict[str, Any], value: str) -> None:
    sizes = graph["graph_module"]["graph"]["tensor_values"]["x"]["sizes"]
    next(s for s in sizes if "as_expr" in s)["as_expr"]["expr_str"] = value


def _enum_spec(graph: dict[str, Any]) -> None:
    context = json.dumps([{"__enum__": True, "fqn": "os:environ", "name": "PATH"}])
    spec = [1, {"type": "builtins.dict", "context": context, "children_spec": []}]
    graph["graph_module"]["module_call_graph"][0]["signature"]["in_spec"] = json.dumps(spec)


def _edit(case: str, marker: Path) -> Callable[[dict[str, bytes]], None]:
    """Archive edits that would run ``touch marker`` through one of torch.export.load's code paths."""
    command = f"touch {shlex.quote(str(marker))}"
    payload = pickle.dumps(Command(command))
    python = f"__import__('os').system({command!r})"
    builtins = "Integer.__new__.__globals__['__builtins__']"
    return {
        "sample inputs": lambda m: m.update({"data/sample_inputs/model.pt": payload}),
        "pickled weight": _pickled_weight(payload),
        "opaque constant": _opaque_constant(payload),
        "legacy weights": lambda m: m.update({"data/weights/model.pt": payload}),
        "aotinductor library": lambda m: m.update({"data/aotinductor/model/model.so": b"\x7fELF"}),
        "sympy expression": _edit_graph(
            lambda g: _first_expr(g, f"{builtins}['__import__']('os').system({command!r})")
        ),
        "guards code": _edit_graph(lambda g: g.update(guards_code=[python])),
        "placeholder name": _edit_graph(lambda g: g.update(_rename(g, "x", f"x={python}"))),
        "enum tree spec": _edit_graph(_enum_spec),
        "os.system target": _edit_graph(
            lambda g: g["graph_module"]["graph"]["nodes"][-1].update(target="torch.os.system")
        ),
    }[case]


LIVE = ["sample inputs", "pickled weight", "opaque constant", "legacy weights", "sympy expression", "guards code"]
LIVE.append("placeholder name")  # FX splices it into the Python source it exec()s


def test_dynamic_export_matches_its_source_at_two_sizes(dynamic_pt2: Path, model: Net) -> None:
    loaded = load_exported(dynamic_pt2, LIMIT)
    assert isinstance(loaded, nn.Module) and not loaded.training
    loaded.eval().to("cpu")  # what the cpu-torch backend does with a module
    for shape in [(1, 3, 16, 20), (1, 3, 24, 12)]:
        x = torch.rand(shape)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x))


def test_static_export_at_another_size_says_to_export_dynamic_shapes(tmp_path: Path, model: Net) -> None:
    loaded = load_exported(_export(tmp_path / "static.pt2", model, dynamic=False), LIMIT)
    torch.testing.assert_close(loaded(torch.ones(1, 3, 16, 20)), model(torch.ones(1, 3, 16, 20)))
    with pytest.raises(ExportError, match=r"accepts inputs of shape 1x3x16x20 but got 1x3x24x24.*Dim"):
        loaded(torch.rand(1, 3, 24, 24))


def test_dynamic_export_below_its_range_is_a_clear_error(dynamic_pt2: Path) -> None:
    with pytest.raises(ExportError, match=r"1x3x\[4\.\.1024\]x\[4\.\.1024\] but got 1x3x2x8"):
        load_exported(dynamic_pt2, LIMIT)(torch.rand(1, 3, 2, 8))


def test_guards_recorded_by_the_export_are_checked_without_exec(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PadNet().eval()
    x = torch.rand(1, 3, 21, 30)
    program = torch.export.export(model, (x,), dynamic_shapes=({2: Dim.DYNAMIC, 3: Dim.DYNAMIC},))
    assert program._guards_code  # e.g. the padded width differs from the width (30 % 8 != 0 when traced)
    torch.export.save(program, tmp_path / "pad.pt2")
    loaded = load_exported(tmp_path / "pad.pt2", LIMIT)
    for shape in [(1, 3, 21, 30), (1, 3, 13, 35)]:
        x = torch.rand(shape)
        torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(ExportError, match=r"1x3x16x16 \(the export requires .*x\.size\(\)\[3\]"):
        loaded(torch.rand(1, 3, 16, 16))


def test_loading_never_unpickles(dynamic_pt2: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader unpickled something")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch._C, "_pickle_load_obj", refuse)
    assert load_exported(dynamic_pt2, LIMIT)(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("case", LIVE)
def test_plain_torch_export_load_would_run_these_payloads(dynamic_pt2: Path, tmp_path: Path, case: str) -> None:
    """The control for the next test: torch 2.13's own loader runs each of these payloads."""
    marker = tmp_path / "MARKER"
    tampered = _tamper(dynamic_pt2, tmp_path / "t.pt2", _edit(case, marker))
    with contextlib.suppress(Exception):  # the command runs first; torch may fail afterwards
        torch.export.load(tampered).module()(torch.rand(1, 3, 8, 8))
    assert marker.exists()


@pytest.mark.parametrize(
    ("case", "refused"),
    [
        ("sample inputs", False),
        ("pickled weight", True),
        ("opaque constant", True),
        ("legacy weights", True),
        ("aotinductor library", True),
        ("sympy expression", True),
        ("guards code", True),
        ("enum tree spec", True),
        ("os.system target", True),
        ("placeholder name", True),
    ],
)
def test_a_tampered_archive_never_runs_its_payload(dynamic_pt2: Path, tmp_path: Path, case: str, refused: bool) -> None:
    marker = tmp_path / "MARKER"
    tampered = _tamper(dynamic_pt2, tmp_path / "tampered.pt2", _edit(case, marker))
    if refused:
        with pytest.raises(UnsafeExport, match=r"tampered\.pt2: .*nothing in them is unpickled or run"):
            load_exported(tampered, LIMIT)
    else:  # the offending part is dropped and never read; the model itself still works
        assert load_exported(tampered, LIMIT)(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)
    assert not marker.exists()


def test_custom_operators_are_refused(tmp_path: Path) -> None:
    model = Net(custom=True).eval()
    with pytest.raises(UnsafeExport, match=r"custom or non-aten operator.*benchtest"):
        load_exported(_export(tmp_path / "custom.pt2", model), LIMIT)
    program = torch.export.export(model, (torch.rand(1, 3, 8, 8),))  # the check on the loaded graph, too
    with pytest.raises(UnsafeExport, match=r"benchtest\.scale"):
        _check_loaded(program, tmp_path / "custom.pt2")


def test_truncated_garbage_and_oversized_files_are_refused(dynamic_pt2: Path, tmp_path: Path) -> None:
    data = dynamic_pt2.read_bytes()
    (tmp_path / "cut.pt2").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt2").write_bytes(b"not a zip at all" * 100)
    for name in ("cut.pt2", "junk.pt2"):
        with pytest.raises(UnsafeExport, match="not a readable pt2 zip archive"):
            load_exported(tmp_path / name, LIMIT)
    with pytest.raises(UnsafeExport, match="over the 1000 limit"):
        load_exported(dynamic_pt2, 1000)
    stripped = _tamper(dynamic_pt2, tmp_path / "nograph.pt2", lambda m: m.pop(GRAPH))
    with pytest.raises(UnsafeExport, match=r"lacks models/model\.json"):
        load_exported(stripped, LIMIT)
    broken = _tamper(dynamic_pt2, tmp_path / "badjson.pt2", lambda m: m.update({GRAPH: b"{not json"}))
    with pytest.raises(UnsafeExport, match="JSON is malformed"):
        load_exported(broken, LIMIT)
