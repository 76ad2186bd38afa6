"""Safe loading of PyTorch-export (``.pt2``) submissions.

What ``torch.export.load`` does in torch 2.13 (read from torch/export/__init__.py,
torch/export/pt2_archive/_package.py, torch/_export/serde/serialize.py, torch/export/_unlift.py,
torch/utils/_pytree.py and torch/fx/graph.py). The archive is a zip read by the C++ ``PyTorchFileReader``:
``<root>/archive_format`` ("pt2"), ``archive_version``, ``models/model.json`` (the graph: JSON that
``_dict_to_dataclass`` turns into schema dataclasses), ``data/weights/model_weights_config.json`` plus
``weight_N`` records and ``data/constants/model_constants_config.json`` plus ``tensor_N`` records (raw
tensor bytes mapped with ``get_storage_from_record`` and ``as_strided``: no pickle), and
``data/sample_inputs/model.pt`` (a ``torch.save`` pickle of the example inputs). It is NOT safe for
untrusted files, as its own docstring warns. Pickle paths: the example inputs go through
``deserialize_torch_artifact``, which tries ``torch.load(weights_only=True)`` and on any error retries with
``weights_only=False``, so a pickle that the safe unpickler refuses is then run; weights and constants whose
config entry says ``use_pickle: true`` (tensor subclasses) are read with ``torch.load(weights_only=False)``;
legacy ``data/weights/model.pt``/``data/constants/model.pt`` take the fallback path too; constants named
``custom_obj_N`` (torchbind ``ScriptObject``) go to ``torch._C._pickle_load_obj`` and ``opaque_obj_N`` to
plain ``pickle.loads``; when the new layout fails with a RuntimeError, ``load`` retries the pre-2.8 layout
(``serialized_*.pt``, same fallback). ``data/aotinductor/<model>/`` records make ``load_pt2`` dlopen a
compiled shared library (native code). ``torch.serialization.safe_globals`` only widens the weights_only
allow-list and cannot stop the explicit ``weights_only=False`` calls; the environment variable
``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1`` forces every ``torch.load`` to weights_only but not ``pickle.loads``,
``_pickle_load_obj`` or AOTInductor. The JSON itself is not inert either: every symbolic size/stride
(``expr_str``, written as sympy ``srepr``) goes to ``sympy.sympify``, which ``eval``s the string (verified:
``Integer.__new__.__globals__['__builtins__']`` is reachable); ``guards_code`` strings are ``exec``'d by
``ep.module()`` when ``check_guards=True`` (the default); tree specs (``in_spec``/``out_spec``) whose context
holds ``__enum__`` call ``importlib.import_module`` on a module named in the file (``collections.defaultdict``
specs import ``default_factory_module``); node targets are resolved by a ``getattr`` walk from ``torch``,
``operator`` or ``math`` and any callable reached becomes a graph call run with the model (for example
``torch.serialization.os.system``, ``torch.ops.load_library``, or
``torch.export.custom_ops._call_custom_autograd_function_in_pre_dispatch``, which imports a module named in
the graph and calls its ``apply``); custom ops in other namespaces resolve only if already registered in the
process (nothing is imported for them; unknown ones fail with SerializeError); and FX code generation splices
placeholder names and attribute paths (``getattr(self, "<name>")``) into Python source that is ``exec``'d
when the module is built. Node metadata (``nn_module_stack``, ``source_fn_stack``, ``stack_trace``) is kept
as strings; nothing in it is imported, and ``source_fn_stack`` is only resolved by ``getattr`` from ``torch``.

So :func:`load_exported` never hands the user's file to torch. It reads the zip with :mod:`zipfile`
(size-capped), accepts only the members listed above, requires raw (non-pickled) weights and constants,
checks every string in the graph JSON (names are identifiers, sympy expressions use a small safe grammar,
tree specs use only tuple/list/dict, op targets are ``aten``/``prims`` ops or Python operators on sizes,
no subgraph/operator/custom-object arguments), drops node metadata, ``guards_code`` and the pickled example
inputs, writes a fresh archive in memory, loads that with ``torch.export.load`` (so no pickle is read) and
checks the loaded graph again. ``ep.module(check_guards=False)`` is used; inputs are still checked against
the exported shapes and ranges by torch's pre-hook. The model runs on CPU, and to score images of several
sizes it must have been exported with dynamic H and W, e.g.
``torch.export.export(model, (x,), dynamic_shapes=({2: Dim("H"), 3: Dim("W")},))``; otherwise an image of
another size raises :class:`ExportError`.
"""

from __future__ import annotations

import io
import json
import operator
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.export.pt2_archive import PT2ArchiveWriter


class UnsafeExport(ValueError):
    """A ``.pt2`` file is corrupt, too large, or holds something the loader refuses; says what, in one paragraph."""


class ExportError(RuntimeError):
    """An exported model was run on an input its export does not accept (a shape guard failed)."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z0-9_.+\-]*")
_TARGET = re.compile(r"torch\.ops\.(aten|prims)\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+")
_PAYLOAD = re.compile(r"data/(weights/weight|constants/tensor)_[0-9]+")
_FIXED = {"archive_format", "archive_version", "byteorder", ".data/version", ".data/serialization_id"}
_WEIGHTS, _CONSTANTS = "data/weights/model_weights_config.json", "data/constants/model_constants_config.json"
_GRAPH, _SAMPLES = "models/model.json", "data/sample_inputs/model.pt"
_SIZE_TEXT = "getitem add sub mul floordiv truediv mod neg pos pow eq ne lt le gt ge and_ or_"
_SIZE_OPS = _SIZE_TEXT.split()  # Python operators on symbolic sizes, as written by dynamic-shape exports
_SAFE_CALLS = {getattr(operator, n) for n in _SIZE_OPS} | {torch.sym_max, torch.sym_min, torch.sym_not}
_SAFE_TARGETS = {f"_operator.{n}" for n in _SIZE_OPS} | {"torch.sym_max", "torch.sym_min", "torch.sym_not"}
_SYMPY_TEXT = (
    "Symbol Integer Rational Mul Add Max Min Mod FloorDiv CeilDiv CleanDiv ModularIndexing PythonMod "
    "IntTrueDiv FloatTrueDiv FloorToInt CeilToInt TruncToInt Eq Ne Lt Le Gt Ge StrictLessThan "
    "StrictGreaterThan LessThan GreaterThan Equality Unequality And Or Not True False oo "
    "positive negative nonnegative integer real finite"
)
_SYMPY_WORDS = set(_SYMPY_TEXT.split())  # the sympy srepr vocabulary of export sizes; nothing reaches builtins
_BANNED_KEYS = {"as_graph", "as_operator", "as_custom_obj", "custom_obj", "token"}
_INPUT_KINDS, _OUTPUT_KINDS = (
    {"user_input", "parameter", "buffer", "tensor_constant"},
    {"user_output", "buffer_mutation"},
)


def _refuse(path: Path, why: str) -> UnsafeExport:
    return UnsafeExport(
        f"torch export {path.name}: {why}; only plain torch.export.save() archives of aten "
        "graphs with raw tensor weights are accepted, and nothing in them is unpickled or run"
    )


def _check_expr(text: str) -> bool:
    """A short sympy srepr of allowed constructors, quoted symbol names and small integers: no attribute access,
    no subscripts, no operators, no powers (sympify eval()s it; Pow of integers could hang the loader)."""
    rest = re.sub(r"'[a-z]+[0-9]+'", "", text)  # symbol names, e.g. Symbol('s0', positive=True, integer=True)
    return (
        len(text) <= 2000
        and re.fullmatch(r"[A-Za-z0-9_ (),=\-]*", rest) is not None
        and re.search(r"[0-9]{16}", rest) is None
        and set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rest)) <= _SYMPY_WORDS
    )


def _check_spec(node: Any) -> bool:
    if not isinstance(node, dict) or node.get("type") not in (None, "builtins.tuple", "builtins.list", "builtins.dict"):
        return False
    context = json.loads(node["context"]) if isinstance(node.get("context"), str) else node.get("context")
    if not (context is None or (isinstance(context, list) and all(isinstance(c, str | int) for c in context))):
        return False
    return all(_check_spec(child) for child in node.get("children_spec", []))


def _check_string(key: str, value: str) -> bool:
    if key == "expr_str":
        return _check_expr(value)
    if key in ("in_spec", "out_spec"):
        spec = json.loads(value)
        return isinstance(spec, list) and len(spec) == 2 and _check_spec(spec[1])
    if key == "target":
        return _TARGET.fullmatch(value) is not None or value in _SAFE_TARGETS
    if key in ("as_string", "as_strings"):  # operator arguments; FX writes them with repr()
        return value.isprintable()
    if key in ("name", "as_name", "forward_arg_names"):
        return _NAME.fullmatch(value) is not None
    return _WORD.fullmatch(value) is not None


def _walk(obj: Any, key: str, path: Path) -> None:
    """Check every key and string of the graph JSON, dropping debug metadata on the way."""
    if isinstance(obj, dict):
        if "metadata" in obj:  # stack traces, nn_module_stack, source_fn_stack: debug text only
            obj["metadata"] = {}
        for k, value in obj.items():
            if k in _BANNED_KEYS or _WORD.fullmatch(k) is None or not k:
                raise _refuse(path, f"the graph holds {k[:60]!r} (subgraphs, custom objects or tokens)")
            _walk(value, k, path)
    elif isinstance(obj, list):
        for value in obj:
            _walk(value, key, path)
    elif isinstance(obj, str) and not _check_string(key, obj):
        what = "calls a custom or non-aten operator" if key == "target" else f"has an unexpected {key}"
        raise _refuse(path, f"the graph {what} ({obj[:80]!r})")


def _check_graph_json(raw: bytes, path: Path) -> bytes:
    graph = json.loads(raw)
    graph["guards_code"] = []
    module = graph["graph_module"]
    module["treespec_namedtuple_fields"] = {}
    signature = module["signature"]
    inputs = [next(iter(s)) for s in signature["input_specs"]]
    outputs = [next(iter(s)) for s in signature["output_specs"]]
    if not set(inputs) <= _INPUT_KINDS or not set(outputs) <= _OUTPUT_KINDS or module["graph"]["custom_obj_values"]:
        raise _refuse(path, f"the graph signature has inputs {inputs} and outputs {outputs}")
    if inputs.count("user_input") != 1 or outputs.count("user_output") != 1:
        raise _refuse(path, "the model must take one image tensor and return one tensor")
    _walk(graph, "", path)
    return json.dumps(graph).encode()


def _check_payload(raw: bytes, folder: str, names: set[str], path: Path) -> None:
    for fqn, meta in json.loads(raw)["config"].items():
        record = f"data/{folder}/{meta['path_name']}"
        sizes = [*meta["tensor_meta"]["sizes"], *meta["tensor_meta"]["strides"]]
        if meta["use_pickle"] is not False or not _PAYLOAD.fullmatch(record) or record not in names:
            raise _refuse(path, f"tensor {fqn[:60]!r} is stored as a pickle or in an unexpected record")
        if re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", fqn) is None or any(set(s) != {"as_int"} for s in sizes):
            raise _refuse(path, f"tensor name {fqn[:60]!r} or its shape is not plain")
        if meta["tensor_meta"]["device"]["type"] != "cpu":
            raise _refuse(path, f"tensor {fqn!r} was saved on {meta['tensor_meta']['device']['type']}; export on CPU")


def _sanitised_archive(path: Path, max_bytes: int) -> io.BytesIO:
    size = path.stat().st_size
    if size > max_bytes:
        raise _refuse(path, f"the file is {size} bytes, over the {max_bytes} limit")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            root = infos[0].filename.split("/", 1)[0] if infos else ""
            members = {i.filename.removeprefix(root + "/"): i for i in infos}
            if len(members) != len(infos) or any(not i.filename.startswith(root + "/") for i in infos):
                raise _refuse(path, "the archive has duplicate names or more than one root folder")
            unexpected = sorted(set(members) - _FIXED - {_GRAPH, _SAMPLES, _WEIGHTS, _CONSTANTS})
            unexpected = [n for n in unexpected if not _PAYLOAD.fullmatch(n)]
            if unexpected:
                raise _refuse(path, f"the archive has unexpected members {unexpected[:5]}")
            if _GRAPH not in members:
                raise _refuse(path, f"the archive lacks {_GRAPH}")
            if sum(i.file_size for i in infos) > max_bytes:
                raise _refuse(path, f"the archive unpacks to more than {max_bytes} bytes")
            data = {n: archive.read(i) for n, i in members.items() if n not in _FIXED and n != _SAMPLES}
            if archive.read(members["archive_format"]) != b"pt2":
                raise _refuse(path, "the archive is not a pt2 archive")
    except (zipfile.BadZipFile, zlib.error, KeyError, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise _refuse(path, f"the file is not a readable pt2 zip archive ({exc})") from exc
    try:
        data[_GRAPH] = _check_graph_json(data[_GRAPH], path)
        names = set(data)
        for config, folder in ((_WEIGHTS, "weights"), (_CONSTANTS, "constants")):
            _check_payload(data[config], folder, names, path)
    except UnsafeExport:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, StopIteration, RecursionError) as exc:
        raise _refuse(path, f"the archive's JSON is malformed ({type(exc).__name__}: {exc})") from exc
    buffer = io.BytesIO()
    with PT2ArchiveWriter(buffer) as writer:
        for name, payload in data.items():
            writer.write_bytes(name, payload)
        writer.write_bytes(_SAMPLES, b"")  # example inputs are a pickle: never passed on
    buffer.seek(0)
    return buffer


def _check_loaded(ep: torch.export.ExportedProgram, path: Path) -> None:
    graphs = [m.graph for m in ep.graph_module.modules() if isinstance(m, torch.fx.GraphModule)]
    for node in (n for graph in graphs for n in graph.nodes):
        target = node.target
        aten = isinstance(target, torch._ops.OpOverload) and target.namespace in ("aten", "prims")
        if node.op in ("call_module", "call_method") or (
            node.op == "call_function" and not aten and target not in _SAFE_CALLS
        ):
            raise _refuse(path, f"the loaded graph calls {target!r}, which is not an aten or prims operator")
    if not all(isinstance(v, torch.Tensor) for v in [*ep.constants.values(), *ep.state_dict.values()]):
        raise _refuse(path, "the program holds ScriptObject or custom-class constants")


class ExportedModule(nn.Module):
    """``ep.module()`` behind a forward that turns shape-guard failures into :class:`ExportError`."""

    def __init__(self, inner: nn.Module, accepted: str, name: str) -> None:
        super().__init__()
        self.inner, self.accepted, self.name = inner, accepted, name

    def train(self, mode: bool = True) -> ExportedModule:
        self.training = mode  # the exported graph is frozen (and refuses train()/eval()); only the flag moves
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            return self.inner(x)
        except RuntimeError as exc:
            if not str(exc).startswith("Expected input at"):
                raise
            raise ExportError(
                f"torch export {self.name} accepts inputs of shape {self.accepted} but got "
                f"{'x'.join(map(str, x.shape))} ({exc.args[0].split('. ')[0]}); to score images of several sizes "
                "the model must be exported with dynamic height and width, e.g. torch.export.export(model, (x,), "
                "dynamic_shapes=({2: torch.export.Dim('H'), 3: torch.export.Dim('W')},))"
            ) from None


def _accepted_shape(ep: torch.export.ExportedProgram) -> str:
    user = ep.graph_signature.user_inputs[0]
    val = next(n for n in ep.graph.nodes if n.op == "placeholder" and n.name == user).meta["val"]
    dims = []
    for dim in val.shape:
        bounds = ep.range_constraints.get(dim.node.expr) if isinstance(dim, torch.SymInt) else None
        if bounds is None:
            dims.append(str(dim))
        else:
            dims.append(f"[{bounds.lower}..{bounds.upper if bounds.upper.is_finite else 'inf'}]")
    return "x".join(dims)


def load_exported(path: Path, max_bytes: int) -> nn.Module:
    """The model in ``path`` (a ``torch.export.save`` archive) as a CPU module, loaded without unpickling or
    running anything from the file; raises :class:`UnsafeExport` for anything the checks refuse."""
    path = Path(path)
    buffer = _sanitised_archive(path, max_bytes)
    try:
        ep = torch.export.load(buffer)
        _check_loaded(ep, path)
        inner, accepted = ep.module(check_guards=False), _accepted_shape(ep)
    except UnsafeExport:
        raise
    except Exception as exc:  # torch raises assorted types (SerializeError, AssertionError, RuntimeError, ...)
        raise _refuse(path, f"torch could not rebuild the program ({type(exc).__name__}: {exc})") from exc
    return ExportedModule(inner, accepted, path.name).eval()
