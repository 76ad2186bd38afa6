"""Keras and SavedModel submissions that would run the author's Python or are not what they claim."""

from __future__ import annotations

import base64
import json
import marshal
import zipfile
from pathlib import Path

from tests.hostile.base import TASK, Attempt, case, folder, score

KERAS = f"name: h\nteam: t\ntasks: [{TASK}]\nformat: keras\nfiles: {{model: m.keras}}\n"
SAVED = f"name: h\nteam: t\ntasks: [{TASK}]\nformat: saved_model\nfiles: {{model: net}}\n"


def keras_zip(path: Path, layer: dict[str, object]) -> None:
    """A .keras archive (config.json, metadata.json, no weights) whose model holds ``layer`` after its input."""
    config = {"module": "keras", "class_name": "Functional", "registered_name": "Functional", "config": {
        "name": "m", "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "x",
             "config": {"batch_shape": [None, None, None, 3], "dtype": "float32", "name": "x"}, "inbound_nodes": []},
            layer | {"name": "evil", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                "shape": [None, None, None, 3], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
        ],
        "input_layers": [["x", 0, 0]], "output_layers": [["evil", 0, 0]]}}  # fmt: skip
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))


@case("Keras Lambda layer carrying bytecode")
def _(root: Path) -> Attempt:
    sub = folder(root, KERAS)
    code = (lambda t: __import__("os").system(f"touch {root / 'pwned'}") or t).__code__
    function = {"class_name": "__lambda__", "config": {"code": base64.b64encode(marshal.dumps(code)).decode(),
                                                       "defaults": None, "closure": None}}  # fmt: skip
    keras_zip(sub / "m.keras", {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                                "config": {"name": "evil", "function": function}})  # fmt: skip
    return Attempt(score(sub), "carries Python code, which bench never runs")


@case("Keras layer class from the os module")
def _(root: Path) -> Attempt:
    sub = folder(root, KERAS)
    keras_zip(sub / "m.keras", {"module": "os", "class_name": "system", "registered_name": None,
                                "config": {"command": f"touch {root / 'pwned'}"}})  # fmt: skip
    return Attempt(score(sub), "comes from module 'os'; only Keras's own layers load")


@case("Keras custom object of the author's package")
def _(root: Path) -> Attempt:
    sub = folder(root, KERAS)
    keras_zip(sub / "m.keras", {"module": None, "class_name": "Evil", "registered_name": "evilpkg>Evil", "config": {}})
    return Attempt(score(sub), "custom object 'evilpkg>Evil' needs the author's code")


@case("Keras file that is not a zip")
def _(root: Path) -> Attempt:
    sub = folder(root, KERAS)
    (sub / "m.keras").write_bytes(b"not a zip archive at all" * 10)
    return Attempt(score(sub), "m.keras is not a readable Keras model file")


@case("SavedModel folder without saved_model.pb")
def _(root: Path) -> Attempt:
    sub = folder(root, SAVED)
    (sub / "net" / "variables").mkdir(parents=True)
    (sub / "net" / "variables" / "variables.index").write_bytes(b"\x00" * 16)
    return Attempt(score(sub), "'net' is not a SavedModel folder (no saved_model.pb)")
