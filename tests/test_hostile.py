"""Hostile submissions, as a stranger would send them: each is refused with a one-paragraph error and exit 2,
no traceback, no code run, within bounded time, and the store is left as it was (here: never created).

This is the start of the corpus; the sandbox's own breaches (a hang, memory) are in test_sandbox.py."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.cli import main

TASK = "denoise-demo-s25"
GOOD = f"name: h\nteam: t\ntasks: [{TASK}]\nformat: safetensors\narchitecture: {{name: identity}}\n"


def _folder(root: Path, manifest: str | None = GOOD) -> Path:
    folder = root / "sub"
    folder.mkdir()
    if manifest is not None:
        (folder / "submission.yaml").write_text(manifest)
    return folder


def manifest_link_out(root: Path) -> Path:
    outside = root / "elsewhere.yaml"
    outside.write_text(GOOD + "secret_key_of_someone_else: 1\n")
    folder = _folder(root, None)
    (folder / "submission.yaml").symlink_to(outside)
    return folder


def huge_manifest(root: Path) -> Path:
    return _folder(root, GOOD + "description: '" + "x" * 70_000 + "'\n")


def deep_yaml(root: Path) -> Path:
    return _folder(root, GOOD + "description: " + "[" * 20_000 + "]" * 20_000 + "\n")


def python_tag(root: Path) -> Path:
    marker = root / "pwned"
    return _folder(root, GOOD + f"description: !!python/object/apply:os.system ['touch {marker}']\n")


def nul_in_file_name(root: Path) -> Path:
    return _folder(root, GOOD + 'files: {weights: "w\\0.safetensors"}\n')


def over_long_file_name(root: Path) -> Path:
    return _folder(root, GOOD + f"files: {{weights: {'w' * 300}.safetensors}}\n")


def symlink_loop(root: Path) -> Path:
    folder = _folder(root, GOOD.replace("identity", "test-scaled") + "files: {weights: a.safetensors}\n")
    os.symlink(folder / "b.safetensors", folder / "a.safetensors")
    os.symlink(folder / "a.safetensors", folder / "b.safetensors")
    return folder


def over_long_name(root: Path) -> Path:
    return _folder(root, GOOD.replace("name: h", "name: " + "n" * 101))


def markup_and_escapes_in_the_name(root: Path) -> Path:
    """A name with rich markup and an ANSI escape, on a model that fails mid-run (the error quotes the name)."""
    manifest = GOOD.replace("name: h", 'name: "evil[/] [bold]x\\e[31m"').replace("identity", "test-fails-late")
    return _folder(root, manifest)


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "manifest is a link out of the folder": (manifest_link_out, "leaves the submission folder"),
    "manifest over 64 KiB": (huge_manifest, "is over 65536 bytes"),
    "YAML nested 20,000 deep": (deep_yaml, "nested too deeply"),
    "YAML python tag": (python_tag, "not valid YAML"),
    "NUL byte in a file name": (nul_in_file_name, "is not a usable file name"),
    "file name of 300 characters": (over_long_file_name, "is not a usable file name"),
    "symlink loop as weights": (symlink_loop, "cannot be resolved (Symlink loop"),
    "name of 101 characters": (over_long_name, "at most 100 characters"),
    "markup and ANSI escapes in the name": (markup_and_escapes_in_the_name, "failed on denoise-demo-s25"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_submission_is_refused_cleanly(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    make, expected = CASES[case]
    folder = make(tmp_path)
    start = time.monotonic()
    code = main(["score", str(folder), "--task", TASK, "--quick"])
    seconds = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error:") and "Traceback" not in err and "\x1b" not in err
    assert expected in " ".join(err.split()), err
    assert "secret_key_of_someone_else" not in err  # nothing of an outside file is echoed
    assert seconds < 60
    assert not (tmp_path / "pwned").exists()  # no code ran
    store = Path(isolated_store.removeprefix("sqlite:///"))
    if store.exists():  # the failing-model case opens the store after its probe: it must be left empty
        from bench.store import Store

        with Store(isolated_store).engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT COUNT(*) FROM runs").scalar() == 0
            assert connection.exec_driver_sql("SELECT COUNT(*) FROM submissions").scalar() == 0


def test_an_oversized_architecture_is_refused_before_anything_is_allocated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    """A 150-byte manifest asking for EDSR with 1,536 features (about 680 M parameters, 2.7 GB): counted on
    the meta device and refused, in seconds, under a memory limit far below what building it would take."""
    folder = _folder(tmp_path, GOOD.replace("tasks: [denoise-demo-s25]", "tasks: [sr-set5-x2]").replace(
        "{name: identity}", "{name: edsr-baseline, args: {n_feats: 1536}}"))  # fmt: skip
    start = time.monotonic()
    code = main(["score", str(folder), "--task", "sr-set5-x2", "--quick", "--memory-limit", "2G"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "Traceback" not in err, err
    assert "parameters, over the budget of 200,000,000; nothing was allocated" in err
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(
    ("claim", "edit"),
    [
        ("team 'bench baselines'", lambda m: m.replace("team: t", "team: bench baselines")),
        ("team 'Bench-Reference Models'", lambda m: m.replace("team: t", "team: Bench-Reference Models")),
        (r"team 'bench\u200bbaselines'", lambda m: m.replace("team: t", 'team: "bench\\u200bbaselines"')),
        ("name 'IDENTITY'", lambda m: m.replace("name: h", "name: IDENTITY")),
        ("name 'fsrcnn_x2'", lambda m: m.replace("name: h", "name: fsrcnn_x2")),
        ("tag 'baseline'", lambda m: m + "tags: [fast, baseline]\n"),
        ("tag 'Reference'", lambda m: m + "tags: [Reference]\n"),
    ],
)
def test_the_projects_names_teams_and_tags_cannot_be_claimed(
    claim: str, edit: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    folder = _folder(tmp_path, edit(GOOD))
    assert main(["score", str(folder), "--task", TASK, "--quick"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"claims {claim}" in err and "reserved for the project's own" in err and "Traceback" not in err, err
    assert not Path(isolated_store.removeprefix("sqlite:///")).exists()  # refused before the store is opened


def test_the_projects_own_folders_keep_their_names(capsys: pytest.CaptureFixture[str], isolated_store: str) -> None:
    from bench.reserved import check_identity, trusted_baseline
    from tests.conftest import REPO

    check_identity(REPO / "submissions/baselines/identity", "identity", "bench baselines", ["baseline"])  # no error
    assert main(["score", str(REPO / "submissions/baselines/identity"), "--task", TASK, "--quick"]) == 0
    assert trusted_baseline("bench baselines", ["baseline"]) and not trusted_baseline("lab", ["baseline"])


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares ``width`` x ``height`` (8-bit RGB) and whose data is a few bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_an_image_too_large_by_its_header_is_refused_before_decoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    """A 13,000 x 13,000 PNG in a data root (over 10 GB once decoded to arrays): refused from its header."""
    _png_header_only(tmp_path / "data" / "scenes" / "huge.png", 13_000, 13_000)
    start = time.monotonic()
    identity = Path(__file__).resolve().parent.parent / "submissions/baselines/identity"
    argv = ["score", str(identity), "--task", TASK, "--quick", "--data-root", str(tmp_path / "data")]
    assert main([*argv, "--memory-limit", "4G"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is 13000 x 13000 = 169,000,000 pixels by its header, over the limit of 67,108,864" in err, err
    assert "Traceback" not in err and time.monotonic() - start < 60
