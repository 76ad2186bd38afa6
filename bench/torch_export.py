"""Safe loading of PyTorch-export (``.pt2``) submissions.

Findings, torch 2.13 (export/__init__.py, export/pt2_archive/_package.py, _export/serde/serialize.py,
export/_unlift.py, utils/_pytree.py, fx/graph.py). A ``.pt2`` is a zip read by the C++ ``PyTorchFileReader``:
``<root>/archive_format`` ("pt2"), ``archive_version``, ``models/model.json`` (the graph, JSON -> schema
dataclasses), ``data/weights/model_weights_config.json`` + ``weight_N`` and
``data/constants/model_constants_config.json`` + ``tensor_N`` (raw tensor bytes, mapped with
``get_storage_from_record``/``as_strided``: no pickle), and ``data/sample_inputs/model.pt`` (a ``torch.save``
pickle). ``torch.export.load`` is not safe for untrusted files (its docstring says so):

* Pickles: the example inputs go through ``deserialize_torch_artifact``, ``torch.load(weights_only=True)`` and on
  any error again with ``weights_only=False``, so a pickle the safe unpickler refuses is then run; config entries
  with ``use_pickle: true`` use ``torch.load(weights_only=False)``; legacy ``data/weights/model.pt`` and
  ``data/constants/model.pt`` take the fallback path; ``custom_obj_N`` constants (torchbind ScriptObjects) go to
  ``torch._C._pickle_load_obj`` and ``opaque_obj_N`` to ``pickle.loads``; when the new layout fails, ``load``
  retries the pre-2.8 one (``serialized_*.pt``, same fallback); ``data/aotinductor/`` records are dlopen'ed.
  ``torch.serialization.safe_globals`` only widens the weights_only allow-list; ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1``
  covers ``torch.load`` but not ``pickle.loads``, ``_pickle_load_obj`` or AOTInductor.
* Code in the JSON: symbolic sizes (``expr_str``, sympy ``srepr``) go to ``sympy.sympify``, which ``eval``s them
  (``Integer.__new__.__globals__['__builtins__']`` reaches builtins); ``guards_code`` is ``exec``'d by
  ``ep.module()`` (default ``check_guards=True``); tree specs with an ``__enum__`` context (and
  ``collections.defaultdict`` ones) run ``importlib.import_module`` on a name from the file; FX code generation
  splices placeholder names and attribute paths (``getattr(self, "<name>")``) into the source it ``exec``s.
  Node targets resolve by ``getattr`` from ``torch``/``operator``/``math``, so any callable can become a graph call
  (``torch.os.system``, ``torch.ops.load_library``, ``torch.export.custom_ops.
  _call_custom_autograd_function_in_pre_dispatch``, which imports a module named in the graph); torch's verifier
  refuses such targets today. Custom-op namespaces are never imported: an op resolves only if already registered
  in the process. Node metadata (``nn_module_stack``, ``source_fn_stack``, ``stack_trace``) stays text.

So :func:`load_exported` never hands the user's file to torch. It reads the zip with :mod:`zipfile` within
``max_bytes``, accepts only the members above and raw weights/constants, checks every string of the graph JSON
(identifier names, a small ``srepr`` grammar, tuple/list/dict tree specs, ``aten``/``prims`` targets or Python
operators on sizes; no subgraph, operator or custom-object arguments), empties node metadata, drops the pickled
example inputs, takes ``guards_code`` out (parsed with :mod:`ast`, evaluated by a small interpreter on the
input's sizes, never ``exec``'d), writes a fresh archive in memory, loads that with ``torch.export.load`` (no
pickle left to read) and checks the loaded graph again. The module runs on CPU. To score images of several
sizes the export needs dynamic H and W, e.g. ``dynamic_shapes=({2: Dim("H"), 3: Dim("W")},)``; an input
outside the exported shapes, ranges or guards raises :class:`ExportError`.
"""

from __future__ import annotations

import ast
import io
import json
import math
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


_NAME, _WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), re.compile(r"[A-Za-z0-9_.+\-]*")
_INPUT = re.compile(r"L(\[('\w+'|\d+)\])*")  # how guards name the input: L['x'], L['args'][0]
_TARGET = re.compile(r"torch\.ops\.(aten|prims)\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+")
_PAYLOAD = re.compile(r"data/(weights/weight|constants/tensor)_[0-9]+")
_FIXED = {"archive_format", "archive_version", "byteorder", ".data/version", ".data/serialization_id"}
_WEIGHTS, _CONSTANTS = "data/weights/model_weights_config.json", "data/constants/model_constants_config.json"
_GRAPH, _SAMPLES = "models/model.json", "data/sample_inputs/model.pt"
_SIZE_TEXT = "getitem add sub mul floordiv truediv mod neg pos eq ne lt le gt ge and_ or_"
_SIZE_OPS = _SIZE_TEXT.split()  # Python operators on symbolic sizes, as written by dynamic-shape exports
_SAFE_CALLS = {getattr(operator, n) for n in _SIZE_OPS} | {torch.sym_max, torch.sym_min, torch.sym_not}
_SAFE_TARGETS = {f"_operator.{n}" for n in _SIZE_OPS} | {"torch.sym_max", "torch.sym_min", "torch.sym_not"}
_SYMPY_TEXT = (  # the sympy srepr vocabulary of export sizes; no Pow (integer powers could hang the loader)
    "Symbol Integer Rational Float Mul Add Max Min Mod FloorDiv CeilDiv CleanDiv ModularIndexing PythonMod "
    "IntTrueDiv FloatTrueDiv FloorToInt CeilToInt TruncToInt TruncToFloat ToFloat RoundToInt Identity Eq Ne Lt "
    "Le Gt Ge StrictLessThan StrictGreaterThan LessThan GreaterThan Equality Unequality And Or Not True False "
    "oo positive negative nonnegative integer real finite precision"
)
_SYMPY_WORDS = set(_SYMPY_TEXT.split())
_BANNED_KEYS = {"as_graph", "as_operator", "as_custom_obj", "custom_obj", "token"}
_INPUTS, _OUTPUTS = {"user_input", "parameter", "buffer", "tensor_constant"}, {"user_output", "buffer_mutation"}
# fmt: off
_OPS: dict[type, Any] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.USub: operator.neg, ast.UAdd: operator.pos,
    ast.Not: operator.not_, ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCS: dict[str, Any] = {
    "math.trunc": math.trunc, "math.floor": math.floor, "math.ceil": math.ceil, "torch.sym_float": float,
    "torch.sym_int": int, "torch.sym_max": max, "torch.sym_min": min, "Max": max, "Min": min,
}
# fmt: on


def _refuse(path: Path, why: str) -> UnsafeExport:
    return UnsafeExport(
        f"torch export {path.name}: {why}; only plain torch.export.save() archives of aten "
        "graphs with raw tensor weights are accepted, and nothing in them is unpickled or run"
    )


def _check_expr(text: str) -> bool:
    """A short srepr of allowed constructors, quoted symbols/numbers and small integers (sympify eval()s it)."""
    rest = re.sub(r"'[a-z]+[0-9]+'|'-?[0-9]{1,16}(\.[0-9]{1,16})?'", "", text)  # Symbol('s0'), Float('2.0')
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
    """Check every key and string of the graph JSON, emptying debug metadata on the way."""
    if isinstance(obj, dict):
        if "metadata" in obj:  # stack traces, nn_module_stack, source_fn_stack: debug text only
            obj["metadata"] = {}
        for k, value in obj.items():
            if k in _BANNED_KEYS or not k or _WORD.fullmatch(k) is None:
                raise _refuse(path, f"the graph holds {k[:60]!r} (subgraphs, custom objects or tokens)")
            _walk(value, k, path)
    elif isinstance(obj, list):
        for value in obj:
            _walk(value, key, path)
    elif isinstance(obj, str) and not _check_string(key, obj):
        what = "calls a custom or non-aten operator" if key == "target" else f"has an unexpected {key}"
        raise _refuse(path, f"the graph {what} ({obj[:80]!r})")


def _guard(node: ast.AST, x: torch.Tensor) -> Any:
    """Evaluate an export guard (sizes of the one input, numbers, arithmetic, comparisons) without eval()."""
    match node:
        case ast.Expression(body=body):
            return _guard(body, x)
        case ast.Constant(value=int() | float() as value) if not isinstance(value, bool):
            return value
        case ast.Subscript(
            value=ast.Call(func=ast.Attribute(value=source, attr="size" | "stride" as attr), args=[], keywords=[]),
            slice=ast.Constant(value=int() as i),
        ) if _INPUT.fullmatch(ast.unparse(source)):
            return getattr(x, attr)()[i]
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _OPS:
            return _OPS[type(op)](_guard(left, x), _guard(right, x))
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _OPS:
            return _OPS[type(op)](_guard(operand, x))
        case ast.BoolOp(op=op, values=values):
            results = [bool(_guard(v, x)) for v in values]
            return all(results) if isinstance(op, ast.And) else any(results)
        case ast.Compare(left=left, ops=ops, comparators=rights) if all(type(o) in _OPS for o in ops):
            vals = [_guard(left, x), *(_guard(r, x) for r in rights)]
            return all(_OPS[type(o)](a, b) for o, a, b in zip(ops, vals, vals[1:], strict=False))
        case ast.Call(func=func, args=args, keywords=[]) if ast.unparse(func) in _FUNCS:
            return _FUNCS[ast.unparse(func)](*(_guard(a, x) for a in args))
    raise ValueError(f"unsupported guard expression {ast.unparse(node)[:80]!r}")


def _check_graph_json(raw: bytes, path: Path) -> tuple[bytes, list[str]]:
    graph = json.loads(raw)
    guards, graph["guards_code"] = graph["guards_code"], []
    module = graph["graph_module"]
    module["treespec_namedtuple_fields"] = {}
    inputs = [next(iter(s)) for s in module["signature"]["input_specs"]]
    outputs = [next(iter(s)) for s in module["signature"]["output_specs"]]
    if not set(inputs) <= _INPUTS or not set(outputs) <= _OUTPUTS or module["graph"]["custom_obj_values"]:
        raise _refuse(path, f"the graph signature has inputs {inputs} and outputs {outputs}")
    if inputs.count("user_input") != 1 or outputs.count("user_output") != 1:
        raise _refuse(path, "the model must take one image tensor and return one tensor")
    if not all(isinstance(g, str) and len(g) <= 2000 for g in guards):
        raise _refuse(path, "the graph has malformed guards_code")
    _walk(graph, "", path)
    return json.dumps(graph).encode(), guards


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


def _sanitised_archive(path: Path, max_bytes: int) -> tuple[io.BytesIO, list[str]]:
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
            if unexpected or _GRAPH not in members:
                why = f"has unexpected members {unexpected[:5]}" if unexpected else f"lacks {_GRAPH}"
                raise _refuse(path, f"the archive {why}")
            if sum(i.file_size for i in infos) > max_bytes:
                raise _refuse(path, f"the archive unpacks to more than {max_bytes} bytes")
            data = {n: archive.read(i) for n, i in members.items() if n not in _FIXED and n != _SAMPLES}
            if archive.read(members["archive_format"]) != b"pt2":
                raise _refuse(path, "the archive is not a pt2 archive")
    except (zipfile.BadZipFile, zlib.error, KeyError, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise _refuse(path, f"the file is not a readable pt2 zip archive ({exc})") from exc
    try:
        data[_GRAPH], guards = _check_graph_json(data[_GRAPH], path)
        for config, folder in ((_WEIGHTS, "weights"), (_CONSTANTS, "constants")):
            _check_payload(data[config], folder, set(data), path)
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
    return buffer, guards


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
    """``ep.module()`` behind a forward that checks the export's guards and reports failures as ExportError."""

    def __init__(self, inner: nn.Module, ep: torch.export.ExportedProgram, guards: list[str], path: Path) -> None:
        super().__init__()
        self.inner, self.name = inner, path.name
        val = next(n for n in ep.graph.nodes if n.name == ep.graph_signature.user_inputs[0]).meta["val"]
        ranges = [ep.range_constraints.get(d.node.expr) if isinstance(d, torch.SymInt) else None for d in val.shape]
        dims = [str(d) if r is None else f"[{r.lower}..{r.upper}]" for d, r in zip(val.shape, ranges, strict=True)]
        self.accepted = "x".join(dims).replace("int_oo", "inf")
        example = torch.empty([d.node.hint if isinstance(d, torch.SymInt) else d for d in val.shape], device="meta")
        self.guards = []
        for text in guards:  # parsed and tried once here, so that a guard the interpreter cannot read is refused
            try:
                self.guards.append((text, ast.parse(text, mode="eval")))
                _guard(self.guards[-1][1], example)
            except (SyntaxError, ValueError, ArithmeticError, IndexError, RecursionError) as exc:
                raise _refuse(path, f"guards_code holds {text[:80]!r}, not a size check this loader can read") from exc

    def train(self, mode: bool = True) -> ExportedModule:
        self.training = mode  # the exported graph is frozen (and refuses train()/eval()); only the flag moves
        return self

    def _error(self, x: torch.Tensor, detail: str) -> ExportError:
        return ExportError(
            f"torch export {self.name} accepts inputs of shape {self.accepted} but got {'x'.join(map(str, x.shape))}"
            f" ({detail}); to score images of several sizes the model must be exported with dynamic height and "
            "width, e.g. torch.export.export(model, (x,), dynamic_shapes=({2: torch.export.Dim('H'), "
            "3: torch.export.Dim('W')},)), and without code that specialises on the size"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for text, tree in self.guards:
            try:
                holds = bool(_guard(tree, x))
            except (ArithmeticError, IndexError, ValueError):
                holds = False
            if not holds:
                raise self._error(x, "the export requires " + re.sub(r"L(\[[^]]*\])+", "x", text))
        try:
            return self.inner(x)
        except RuntimeError as exc:
            if not str(exc).startswith("Expected input at"):
                raise
            raise self._error(x, exc.args[0].split(". ")[0]) from None


def load_exported(path: Path, max_bytes: int) -> nn.Module:
    """The model in ``path`` (a ``torch.export.save`` archive) as a CPU module, loaded without unpickling or
    running anything from the file; raises :class:`UnsafeExport` for anything the checks refuse."""
    path = Path(path)
    buffer, guards = _sanitised_archive(path, max_bytes)
    try:
        ep = torch.export.load(buffer)
        _check_loaded(ep, path)
        module = ExportedModule(ep.module(check_guards=False), ep, guards, path)
    except UnsafeExport:
        raise
    except Exception as exc:  # torch raises assorted types (SerializeError, AssertionError, RuntimeError, ...)
        raise _refuse(path, f"torch could not rebuild the program ({type(exc).__name__}: {exc})") from exc
    return module.eval()
