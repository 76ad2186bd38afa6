"""Hostile paths and files, and code hidden in them (pickles, torch exports)."""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file

from tests.hostile.base import (
    GOOD,
    ONNX_GOOD,
    TASK,
    Attempt,
    arch,
    case,
    folder,
    onnx_case,
    save_onnx,
    score,
    scored,
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
