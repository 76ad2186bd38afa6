"""The corpus of hostile submissions and inputs: each case builds, in an empty folder, what a stranger would
send (and the command that meets it), and names the words its one-paragraph refusal must contain.

A case is a function ``(root) -> Attempt``, registered with :func:`case`. ``root`` holds nothing but a copy of
a store with one finished result (``STORE`` in the runner's environment); a case that would run code leaves
``root / "pwned"`` behind, which the runner checks never appears. tests/test_hostile.py runs every case as a
real ``python -m bench.cli`` process and checks exit 2, no traceback, time, memory and the store.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
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


# -- the manifest ---------------------------------------------------------------------------------------


@case("manifest is a link out of the folder")
def _(root: Path) -> Attempt:
    outside = root / "elsewhere.yaml"
    outside.write_text(GOOD + "secret_key_of_someone_else: 1\n")
    sub = folder(root, None)
    (sub / "submission.yaml").symlink_to(outside)
    return Attempt(score(sub), "leaves the submission folder")


@case("manifest over 64 KiB")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + "description: '" + "x" * 70_000 + "'\n", "is over 65536 bytes")


@case("YAML nested 20,000 deep")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + "description: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested too deeply")


@case("YAML python tag")
def _(root: Path) -> Attempt:
    tag = f"description: !!python/object/apply:os.system ['touch {root / 'pwned'}']\n"
    return scored(root, GOOD + tag, "not valid YAML")


@case("YAML alias bomb")
def _(root: Path) -> Attempt:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return scored(root, GOOD + "bomb:\n" + "\n".join("  " + line for line in lines) + "\n", "bomb")


@case("manifest is a list")
def _(root: Path) -> Attempt:
    return scored(root, "- name: h\n- team: t\n", "submission.yaml")


@case("manifest is empty")
def _(root: Path) -> Attempt:
    return scored(root, "", "submission.yaml")


@case("manifest is not UTF-8")
def _(root: Path) -> Attempt:
    sub = folder(root, None)
    (sub / "submission.yaml").write_bytes(b"name: \xff\xfe\x00h\nteam: t\n")
    return Attempt(score(sub), "submission.yaml")


@case("manifest has an unknown key")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + "run_this: rm -rf /\n", "run_this")


@case("format pickle")
def _(root: Path) -> Attempt:
    return scored(root, GOOD.replace("format: safetensors", "format: pickle"), "format")


@case("NUL byte in a file name")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + 'files: {weights: "w\\0.safetensors"}\n', "is not a usable file name")


@case("file name of 300 characters")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + f"files: {{weights: {'w' * 300}.safetensors}}\n", "is not a usable file name")


@case("name of 101 characters")
def _(root: Path) -> Attempt:
    return scored(root, GOOD.replace("name: h", "name: " + "n" * 101), "at most 100 characters")


@case("markup and ANSI escapes in the name")
def _(root: Path) -> Attempt:
    manifest = GOOD.replace("name: h", 'name: "evil[/] [bold]x\\e[31m\\u202e"').replace("identity", "test-fails-late")
    return scored(root, manifest, "failed on denoise-demo-s25")


# -- names that belong to the project --------------------------------------------------------------------

for _claim, _edit in {
    "team 'bench baselines'": lambda m: m.replace("team: t", "team: bench baselines"),
    "team 'Bench-Reference Models'": lambda m: m.replace("team: t", "team: Bench-Reference Models"),
    r"team 'bench\u200bbaselines'": lambda m: m.replace("team: t", 'team: "bench\\u200bbaselines"'),
    "name 'IDENTITY'": lambda m: m.replace("name: h", "name: IDENTITY"),
    "name 'fsrcnn_x2'": lambda m: m.replace("name: h", "name: fsrcnn_x2"),
    "tag 'baseline'": lambda m: m + "tags: [fast, baseline]\n",
    "tag 'Reference'": lambda m: m + "tags: [Reference]\n",
}.items():
    case(f"claims {_claim}")(
        lambda root, claim=_claim, edit=_edit: Attempt(score(folder(root, edit(GOOD))), f"claims {claim}")
    )


# -- files and paths -------------------------------------------------------------------------------------


@case("absolute weights path")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-scaled", weights="/etc/passwd"), "must be relative and stay inside the folder")


@case("weights path with ..")
def _(root: Path) -> Attempt:
    (root / "w.safetensors").write_bytes(b"")
    return scored(root, arch("test-scaled", weights="../w.safetensors"), "must be relative and stay inside")


@case("weights are a link out of the folder")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    save_file({"w": torch.ones(1)}, str(root / "outside.safetensors"))
    (sub / "w.safetensors").symlink_to(root / "outside.safetensors")
    return Attempt(score(sub), "is a link that leaves the submission folder")


@case("weights are a link to /dev/zero")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    (sub / "w.safetensors").symlink_to("/dev/zero")
    return Attempt(score(sub), "is a link that leaves the submission folder")


@case("symlink loop as weights")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="a.safetensors"))
    os.symlink(sub / "b.safetensors", sub / "a.safetensors")
    os.symlink(sub / "a.safetensors", sub / "b.safetensors")
    return Attempt(score(sub), "cannot be resolved (Symlink loop")


@case("weights are a named pipe")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    os.mkfifo(sub / "w.safetensors")  # reading it would block forever
    return Attempt(score(sub), "does not exist")


@case("weights are a folder")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    (sub / "w.safetensors").mkdir()
    return Attempt(score(sub), "does not exist")


@case("weights of 600 MiB")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    with (sub / "w.safetensors").open("wb") as handle:
        handle.truncate(600 * 2**20)  # sparse: no disk used
    return Attempt(score(sub), "over the 536870912 limit")


@case("submission folder is a file")
def _(root: Path) -> Attempt:
    (root / "sub").write_text(GOOD)
    return Attempt(score(root / "sub"), "submission folder not found")


@case("submission folder does not exist")
def _(root: Path) -> Attempt:
    return Attempt(score(root / "nowhere"), "submission folder not found")


@case("ONNX folder of 1,001 files")
def _(root: Path) -> Attempt:
    sub = folder(root, ONNX_GOOD)
    save_onnx(sub / "m.onnx", [helper.make_node("Identity", ["x"], ["y"])])
    for i in range(1001):
        (sub / f"f{i}").write_bytes(b"")
    return Attempt(score(sub), "holds more than 1000 files")


@case("ONNX external data linked out of the folder")
def _(root: Path) -> Attempt:
    sub = folder(root, ONNX_GOOD)
    save_onnx(sub / "m.onnx", [helper.make_node("Identity", ["x"], ["y"])])
    (sub / "m.onnx.data").symlink_to("/etc/hostname")
    return Attempt(score(sub), "is a link that leaves the submission folder")


@case("ONNX external data outside the folder")
def _(root: Path) -> Attempt:
    """An initializer whose external data lives at ../secret.bin: the runtime must never read it."""
    (root / "secret.bin").write_bytes(struct.pack("<f", 0.0))
    weight = numpy_helper.from_array(np.zeros(1, dtype="float32"), "k")
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("raw_data")
    for key, value in {"location": "../secret.bin", "offset": "0", "length": "4"}.items():
        weight.external_data.add(key=key, value=value)
    return onnx_case(root, [helper.make_node("Add", ["x", "k"], ["y"])], "secret.bin", inits=[weight])


# -- code in the files: pickle, torch export ---------------------------------------------------------


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (f"touch {self.marker}",))


@case("pickled .pth as weights")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="model.pth"))
    (sub / "model.pth").write_bytes(pickle.dumps(_Payload(root / "pwned")))
    return Attempt(score(sub), "only safetensors weights are accepted")


@case("safetensors header of 1 TB")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    (sub / "w.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{" * 64)
    return Attempt(score(sub), "is not a readable safetensors file")


@case("safetensors of the wrong shapes")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    save_file({"w": torch.ones(2)}, str(sub / "w.safetensors"))
    return Attempt(score(sub), "do not fit architecture 'test-scaled'")


@case("NaN weights")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-scaled", weights="w.safetensors"))
    save_file({"w": torch.full((1,), float("nan"))}, str(sub / "w.safetensors"))
    return Attempt(score(sub), "NaN/Inf values")


EXPORT = f"name: h\nteam: t\ntasks: [{TASK}]\nformat: torch-export\nfiles: {{model: m.pt2}}\n"


@case("torch export holding a pickle")
def _(root: Path) -> Attempt:
    sub = folder(root, EXPORT)
    payload = pickle.dumps(_Payload(root / "pwned"))
    with zipfile.ZipFile(sub / "m.pt2", "w") as archive:
        for name, data in {
            "m/archive_format": b"pt2",
            "m/data/sample_inputs/model.pt": payload,
            "m/x.pkl": payload,
        }.items():
            archive.writestr(name, data)
    return Attempt(score(sub), "the archive has unexpected members ['x.pkl']")


@case("torch export that is a zip bomb")
def _(root: Path) -> Attempt:
    sub = folder(root, EXPORT)
    with (
        zipfile.ZipFile(sub / "m.pt2", "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("m/models/model.json", "w", force_zip64=True) as member,
    ):
        for _ in range(600):  # 600 MiB of zeros in a file of 600 KiB
            member.write(b"\0" * 2**20)
    return Attempt(score(sub), "the archive unpacks to more than 536870912 bytes")


@case("torch export that is not a zip")
def _(root: Path) -> Attempt:
    sub = folder(root, EXPORT)
    (sub / "m.pt2").write_bytes(os.urandom(4096))
    return Attempt(score(sub), "the file is not a readable pt2 zip archive")


# -- ONNX and TFLite graphs ----------------------------------------------------------------------------


@case("ONNX garbage bytes")
def _(root: Path) -> Attempt:
    sub = folder(root, ONNX_GOOD)
    (sub / "m.onnx").write_bytes(os.urandom(2048))
    return Attempt(score(sub), "failed its checks")


@case("ONNX Loop with a trip count of 10^15")
def _(root: Path) -> Attempt:
    trips = numpy_helper.from_array(np.array(10**15, dtype="int64"), "trips")
    keep = numpy_helper.from_array(np.array(True), "keep")
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    loop = helper.make_node("Loop", ["trips", "keep", "x"], ["y"], body=body)
    return onnx_case(root, [loop], "within the per-image limit of 5 s; its process was stopped", "--image-limit", "5",
                     inits=[trips, keep])  # fmt: skip


@case("ONNX with a fixed 48x48 input")
def _(root: Path) -> Attempt:
    return onnx_case(root, [helper.make_node("Identity", ["x"], ["y"])], "failed on denoise-demo-s25",
                     shape=[1, 3, 48, 48])  # fmt: skip


@case("ONNX output of the wrong size")
def _(root: Path) -> Attempt:
    pads = numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 2, 2], dtype="int64"), "pads")
    return onnx_case(root, [helper.make_node("Pad", ["x", "pads"], ["y"])], "output shape", inits=[pads])


@case("ONNX output on the 0..255 scale")
def _(root: Path) -> Attempt:
    k = numpy_helper.from_array(np.array([255.0], dtype="float32"), "k")
    return onnx_case(root, [helper.make_node("Mul", ["x", "k"], ["y"])], "this looks like 0..255", inits=[k])


@case("ONNX NaN output")
def _(root: Path) -> Attempt:
    k = numpy_helper.from_array(np.array([0.0], dtype="float32"), "k")
    nodes = [helper.make_node("Mul", ["x", "k"], ["z"]), helper.make_node("Div", ["z", "z"], ["y"])]
    return onnx_case(root, nodes, "NaN/Inf values", inits=[k])


@case("ONNX random output")
def _(root: Path) -> Attempt:
    nodes = [helper.make_node("RandomUniformLike", ["x"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])]
    return onnx_case(root, nodes, "deterministic")


@case("ONNX custom operator domain")
def _(root: Path) -> Attempt:
    return onnx_case(root, [helper.make_node("Exec", ["x"], ["y"], domain="com.evil")], "failed its checks")


@case("ONNX opset 999")
def _(root: Path) -> Attempt:
    return onnx_case(root, [helper.make_node("Identity", ["x"], ["y"])], "failed its checks", opset=999)


@case("ONNX inflating its input 64x")
def _(root: Path) -> Attempt:
    up = numpy_helper.from_array(np.array([1, 1, 64, 64], dtype="float32"), "up")
    down = numpy_helper.from_array(np.array([1, 1, 1 / 64, 1 / 64], dtype="float32"), "down")
    nodes = [helper.make_node("Resize", ["x", "", "up"], ["big"], mode="nearest"),
             helper.make_node("Resize", ["big", "", "down"], ["y"], mode="nearest")]  # fmt: skip
    return onnx_case(root, nodes, "over the memory limit of 2 GiB", "--memory-limit", "2G", inits=[up, down])


@case("TFLite garbage bytes")
def _(root: Path) -> Attempt:
    sub = folder(root, f"name: h\nteam: t\ntasks: [{TASK}]\nformat: tflite\nfiles: {{model: m.tflite}}\n")
    (sub / "m.tflite").write_bytes(b"TFL3" + os.urandom(4096))
    return Attempt(score(sub), "The model is not a valid Flatbuffer buffer")


# -- a model that misbehaves when it runs ------------------------------------------------------------------


@case("model never returns")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-hangs"), "within the per-image limit of 4 s", "--image-limit", "4")


@case("model allocates 6 GiB under a 3 GiB limit")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-hungry", "{gib: 6}"), "over the memory limit of 3 GiB", "--memory-limit", "3G")


@case("model returns a tuple")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: tuple}"), "failed on denoise-demo-s25")


@case("model raises TypeError mid-run")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-fails-late"), "TypeError: the second image broke the model")


@case("model aborts its process")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: abort}"), "was killed by signal 6 (SIGABRT)")


@case("model exits its process")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: exit}"), "exited with 0")


@case("model writes 64 MiB under a 16 MiB file limit")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: writes, mib: 64}"),
                  "wrote a file over the file-size limit of 16 MiB (--file-limit)", "--file-limit", "16M")  # fmt: skip


@case("model overwrites its own manifest")
def _(root: Path) -> Attempt:
    sub = folder(root)
    manifest = arch("test-misbehaves", f"{{how: tampers, target: {sub / 'submission.yaml'}}}")
    (sub / "submission.yaml").write_text(manifest)
    return Attempt(score(sub), "Read-only file system")


@case("architecture of 10^7 residual blocks")
def _(root: Path) -> Attempt:
    manifest = arch("edsr-baseline", "{n_resblocks: 10000000, n_feats: 1}").replace(TASK, "sr-set5-x2")
    sub = folder(root, manifest)
    return Attempt(["score", str(sub), "--task", "sr-set5-x2", "--quick", "--image-limit", "5", "--memory-limit", "3G"],
                   "loading the model")  # fmt: skip


@case("architecture of 680 M parameters")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("edsr-baseline", "{n_feats: 1536}").replace(TASK, "sr-set5-x2"))
    return Attempt(["score", str(sub), "--task", "sr-set5-x2", "--quick", "--memory-limit", "2G"],
                   "over the budget of 200,000,000; nothing was allocated")  # fmt: skip


@case("architecture with activations of 4.9 GiB under a 4 GiB limit")
def _(root: Path) -> Attempt:
    """3 -> 20,000 -> 3 channels: 20,000 x 256 x 256 x 4 bytes = 4.9 GiB for one activation of a demo image."""
    sub = folder(root, arch("test-wide", "{channels: 20000}", weights="w.safetensors"))
    save_wide(sub / "w.safetensors", 20000)
    return Attempt(
        score(sub, "--memory-limit", "4G"), "over the memory limit of 4 GiB (--memory-limit); refused before"
    )


@case("architecture over a MAC budget of 1 M per call")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-wide", "{channels: 64}", weights="w.safetensors"))
    save_wide(sub / "w.safetensors", 64)
    # the 48 x 48 probe takes 48 x 48 x 64 x 3 x 2 = 884,736 MACs (allowed); a 256 x 256 image 25.2 M (refused)
    return Attempt(score(sub, "--mac-limit", "1M"), "multiply-accumulates, over the budget of 1e-06 T per call")


@case("architecture arguments of the wrong type")
def _(root: Path) -> Attempt:
    return scored(root, arch("dncnn", "{features: lots}"), "bad arguments for architecture 'dncnn'")


@case("unknown architecture")
def _(root: Path) -> Attempt:
    return scored(root, arch("__import__('os').system"), "unknown architecture")


# -- data, store and command line ------------------------------------------------------------------------


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares ``width`` x ``height`` (8-bit RGB) and whose data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip


IDENTITY = REPO / "submissions" / "baselines" / "identity"


@case("data root with a 13,000 x 13,000 PNG")
def _(root: Path) -> Attempt:
    png_header_only(root / "data" / "scenes" / "huge.png", 13_000, 13_000)
    return Attempt(score(IDENTITY, "--data-root", str(root / "data"), "--memory-limit", "4G"),
                   "is 13000 x 13000 = 169,000,000 pixels by its header, over the limit of 67,108,864")  # fmt: skip


@case("data root with a corrupt PNG")
def _(root: Path) -> Attempt:
    (root / "data" / "scenes").mkdir(parents=True)
    (root / "data" / "scenes" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))
    return Attempt(score(IDENTITY, "--data-root", str(root / "data")), "cannot read image")


@case("store file is not a database")
def _(root: Path) -> Attempt:
    (root / "garbage.db").write_bytes(os.urandom(8192))
    return Attempt(score(IDENTITY, "--db", str(root / "garbage.db")), "cannot be used", db=str(root / "garbage.db"))


@case("store is read-only")
def _(root: Path) -> Attempt:
    return Attempt(score(IDENTITY), "readonly", db="READONLY")


@case("store disk is full")
def _(root: Path) -> Attempt:
    return Attempt(score(IDENTITY), "often a full disk; nothing stored before is lost, and the unfinished run",
                   full_disk=True, keeps_unfinished=True)  # fmt: skip


@case("PostgreSQL refuses the connection")
def _(root: Path) -> Attempt:
    url = "postgresql+psycopg://bench@127.0.0.1:9/bench?connect_timeout=3"
    return Attempt(score(IDENTITY, "--db", url), "cannot be used", db=url)


@case("--json into a path under a file")
def _(root: Path) -> Attempt:
    (root / "file.txt").write_text("")
    return Attempt(score(IDENTITY, "--json", str(root / "file.txt" / "r.json")), "cannot write")


@case("challenge track without its baseline")
def _(root: Path) -> Attempt:
    return Attempt(["challenge", "ntire2024-esr", str(IDENTITY), "--quick"], "give --baseline")


@case("unknown task")
def _(root: Path) -> Attempt:
    return Attempt(["score", str(IDENTITY), "--task", "../../etc/passwd", "--quick"], "unknown task")
