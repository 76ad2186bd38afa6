"""The optimisation-method registry: every method's command is built from its options model, progress
comes through one callback type, and a new method is one file plus its registration."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import build_parser, main
from bench.optimize.methods import METHODS, Options, option, register_method
from bench.optimize.options import PruneOptions, QuantizeOptions
from bench.submission import load_submission
from tests.conftest import REPO

IDENTITY = REPO / "submissions" / "baselines" / "identity"


def test_every_method_has_a_command_built_from_its_options() -> None:
    assert {"lightweight", "prune", "quantize", "nas", "portable"} <= set(METHODS)
    parser = build_parser()
    args = parser.parse_args(["optimize", "prune", "base", "--task", "t", "-g", "4", "--plan", "0", "1000"])
    assert (args.baseline, args.multiple, args.plan) == (Path("base"), 4, [0.0, 1000.0])
    assert args.tolerance_db == PruneOptions.model_fields["tolerance_db"].default  # defaults come from the model
    args = parser.parse_args(["optimize", "quantize", "base", "--task", "t", "--precision", "int8"])
    assert args.calibration_images == QuantizeOptions.model_fields["calibration_images"].default
    with pytest.raises(SystemExit):
        parser.parse_args(["optimize", "quantize", "base", "--task", "t", "--precision", "int4"])  # choices
    with pytest.raises(SystemExit):
        parser.parse_args(["optimize", "prune", "base", "--task", "t", "--rounds", "0"])  # ge=1


def test_a_new_method_is_one_file_and_its_registration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "copy_method.py").write_text(
        "from bench.optimize.methods import Event, Report\n"
        "from bench.submission import load_submission\n"
        "from bench.submission_writer import manifest_of, write_submission\n\n\n"
        "def run(options, progress):\n"
        "    baseline = load_submission(options.baseline)\n"
        "    progress(Event('copy', f'copying {baseline.manifest.name}', 1, 1))\n"
        "    tags = [*baseline.manifest.tags, options.tag]\n"
        "    manifest = manifest_of({'name': baseline.manifest.name + '-copy', 'tags': tags}, base=baseline.manifest)\n"
        "    folder = write_submission(options.out, manifest).folder\n"
        "    return Report(folder=folder, lines=[f'copied to {folder}'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    @register_method("test-copy", "copy a parameter-free baseline under a new name", run="copy_method:run")
    class CopyOptions(Options):
        baseline: Path = option(positional=True, help="baseline folder")
        out: Path = option(help="new folder")
        tag: str = option("copied", help="tag to add")

    try:
        assert main(["optimize", "test-copy", str(IDENTITY), "--out", str(tmp_path / "c"), "--tag", "mine"]) == 0
    finally:
        METHODS.remove("test-copy")
    printed = capsys.readouterr().out
    assert "copying identity" in printed and f"copied to {tmp_path / 'c'}" in printed
    copy = load_submission(tmp_path / "c")
    assert copy.manifest.name == "identity-copy" and "mine" in copy.manifest.tags
