"""``bench optimize prune``: threshold and hardware multiple against hand computations, coupled layers, the
search's keep / revert logic, and a real (tiny) EDSR pruned end to end into a dense submission that loads.

The baseline is a tiny EDSR trained here by ``bench train`` on the ``train_folder`` photos (no
../shared, no GPU).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.cli import main
from bench.models import build_model
from bench.models.pruned_arch import apply_layer_sizes, changed_layers
from bench.optimize.prune import PruneSettings, apply_cuts, output_layers, plan_cuts
from bench.optimize.prune_run import run_prune
from bench.submission import load_submission

SMALL_EDSR = {"name": "edsr-baseline", "args": {"n_resblocks": 2, "n_feats": 16}}
FAST: dict[str, Any] = {"finetune_steps": 1, "final_steps": 1}


def tiny_edsr(scale: int = 2) -> Any:  # an EDSR module (attribute access to its layers)
    torch.manual_seed(0)
    return build_model("edsr-baseline", {"scale": scale, "n_resblocks": 2, "n_feats": 16}, {}).eval()


def test_threshold_and_multiple_match_a_hand_computation() -> None:
    """Resblock 0's inner conv: 12 strong filters and 4 near zero. q = 1 marks exactly the 4 weak ones
    (below 1 x std of the norms); g = 4 keeps 12, g = 8 rounds 12 up to 16, so nothing is cut."""
    model, example = tiny_edsr(), torch.rand(1, 3, 12, 12)
    conv = model.body[0].body[0]
    with torch.no_grad():
        conv.weight.normal_(0, 1.0)
        conv.weight[[1, 5, 9, 14]] = 1e-4
    cuts = {c.root: c for c in plan_cuts(model, example, q=1.0, multiple=4)}
    assert cuts["body.0.body.0"].kept == 12 and cuts["body.0.body.0"].drop == (1, 5, 9, 14)
    assert "body.0.body.0" not in {c.root for c in plan_cuts(model, example, q=1.0, multiple=8)}
    norms = conv.weight.flatten(1).norm(dim=1)
    assert int((norms < norms.std()).sum()) == 4  # its group: itself and the next conv's inputs


def test_coupled_trunk_is_cut_together_and_shuffle_outputs_stay_whole() -> None:
    model, example = tiny_edsr(), torch.rand(1, 3, 12, 12)
    assert {id(m) for m in output_layers(model, example)} == {id(model.tail[0][0]), id(model.tail[1])}
    cuts = plan_cuts(model, example, q=1e3, multiple=4)  # a high threshold: every group is cut to 4
    apply_cuts(model, example, cuts)
    trunk = [model.head, model.body[0].body[2], model.body[1].body[2], model.body[2]]
    assert {c.out_channels for c in trunk} == {4} and model.tail[0][0].in_channels == 4
    assert model.tail[0][0].out_channels == 64 and model.tail[1].out_channels == 3  # 16 x 2^2 sub-pixels, RGB
    with torch.no_grad():
        assert model(torch.rand(1, 3, 9, 11)).shape == (1, 3, 18, 22)


def test_pruned_architecture_rebuilds_the_dense_model_exactly() -> None:
    model, example = tiny_edsr(), torch.rand(1, 3, 12, 12)
    apply_cuts(model, example, plan_cuts(model, example, q=1e3, multiple=4))
    layers = changed_layers(tiny_edsr(), model)
    assert layers and all(size[0] % 4 == 0 for name, size in layers.items() if len(size) == 2)
    base = {"name": "edsr-baseline", "args": {"scale": 2, "n_resblocks": 2, "n_feats": 16}}
    rebuilt = build_model("pruned", {"base": base, "layers": layers}, {})
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))
    with pytest.raises(ValueError, match=r"no layer 'body\.9'"):
        apply_layer_sizes(tiny_edsr(), {"body.9": [8, 8]})


def test_prune_end_to_end_writes_a_smaller_dense_submission(
    sr_baseline: Path, train_folder: Path, tmp_path: Path
) -> None:
    settings = PruneSettings(tolerance_db=100.0, multiple=4, q_start=50.0, q_step=50.0, max_rounds=2, **FAST)
    out = tmp_path / "pruned"
    outcome, folder = run_prune(sr_baseline, "sr-set5-x2", out, settings, device=None, data_folder=train_folder,
                                validation_images=1, validation_crop=32)  # fmt: skip
    assert folder == out and outcome.after["macs"] < outcome.before["macs"]
    assert outcome.rounds[1].accepted and outcome.rounds[-1].note == "final fine-tune"
    assert outcome.rounds[2].note == "nothing below the threshold"  # round 1 already left g channels everywhere
    changed = {k: v for k, v in outcome.after["widths"].items() if v != outcome.before["widths"][k]}
    assert changed and all(width % 4 == 0 for width in changed.values())
    submission = load_submission(out)
    manifest = submission.manifest
    assert manifest.architecture is not None and manifest.architecture.name == "pruned"
    assert manifest.derived_from == "tiny-edsr-x2" and "pruned" in manifest.tags
    model = submission.build({"scale": 2})
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        assert torch.equal(model(x), outcome.model(x))
    report = json.loads((out / "prune-report.json").read_text())
    assert len(report["rounds"]) == len(outcome.rounds) and report["settings"]["multiple"] == 4
    assert "## Rounds" in (out / "MODEL_CARD.md").read_text() and (out / "recipe.yaml").is_file()


def test_a_drop_reverts_the_round_and_halves_the_step(sr_baseline: Path, train_folder: Path, tmp_path: Path) -> None:
    settings = PruneSettings(tolerance_db=-100.0, multiple=4, q_start=100.0, q_step=50.0, q_step_min=20.0, **FAST)
    outcome, _ = run_prune(sr_baseline, "sr-set5-x2", tmp_path / "p", settings, device=None,
                           data_folder=train_folder, validation_images=1, validation_crop=32)  # fmt: skip
    tried = [r for r in outcome.rounds if r.note == "reverted"]
    assert [r.q for r in tried] == [100.0, 75.0]  # step 50 -> 25 -> 12.5 < 20: stop
    assert outcome.after["widths"] == outcome.before["widths"] and outcome.after["macs"] == outcome.before["macs"]


def test_cli(sr_baseline: Path, train_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["optimize", "prune", str(sr_baseline), "--task", "sr-set5-x2", "--out", str(tmp_path / "o"),
            "--device", "none", "--data", str(train_folder), "--held-out", "1", "--held-out-crop", "32",
            "--q-start", "1e3", "--rounds", "1", "--finetune-steps", "1", "--final-steps", "1", "-g", "4",
            "--tolerance", "99", "--control"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "round 1:" in printed and "pruned submission" in printed and "unpruned control after" in printed
    assert main(argv) == 2 and "already exists" in capsys.readouterr().err
    assert main([*argv[:3], "--task", "denoise-demo-s25", "--out", str(tmp_path / "x")]) == 2
    assert "does not declare task denoise-demo-s25" in capsys.readouterr().err


def test_control_replays_only_the_kept_fine_tunes(sr_baseline: Path, train_folder: Path, tmp_path: Path) -> None:
    # Every round is reverted, so the kept model is the baseline plus the final fine-tune alone: the unpruned
    # control, replaying only kept fine-tunes on the same patches, must land on exactly the same PSNR (a replay
    # of the reverted rounds' fine-tunes, or of other patches, would not).
    settings = PruneSettings(tolerance_db=-100.0, multiple=4, q_start=100.0, q_step=50.0, q_step_min=20.0,
                             finetune_steps=2, final_steps=2, control=True)  # fmt: skip
    outcome, folder = run_prune(sr_baseline, "sr-set5-x2", tmp_path / "p", settings, device=None,
                                data_folder=train_folder, validation_images=1, validation_crop=32)  # fmt: skip
    batch = 4  # recipes/tiny-fsrcnn-x2.yaml's batch size, which the conftest baseline keeps
    reverted = sum(1 for r in outcome.rounds if r.note == "reverted")
    assert reverted == 2 and outcome.kept_finetunes == [(reverted * 2 * batch, 2)]
    assert outcome.control_psnr == pytest.approx(outcome.final_psnr, abs=1e-9)
    assert outcome.final_psnr != outcome.baseline_psnr  # the final fine-tune did train
    report = json.loads((folder / "prune-report.json").read_text())
    assert report["control_psnr"] == outcome.control_psnr and report["kept_finetunes"] == [[16, 2]]
    assert "unpruned control after the same 2 fine-tuning steps" in (folder / "MODEL_CARD.md").read_text()


def test_control_of_a_kept_cut_replays_its_fine_tune(sr_baseline: Path, train_folder: Path, tmp_path: Path) -> None:
    settings = PruneSettings(tolerance_db=100.0, multiple=4, q_start=50.0, q_step=50.0, max_rounds=1,
                             finetune_steps=2, final_steps=3, control=True)  # fmt: skip
    outcome, _ = run_prune(sr_baseline, "sr-set5-x2", tmp_path / "p", settings, device=None,
                           data_folder=train_folder, validation_images=1, validation_crop=32)  # fmt: skip
    assert outcome.rounds[1].accepted and outcome.after["macs"] < outcome.before["macs"]
    assert [steps for _, steps in outcome.kept_finetunes] == [2, 3]
    assert outcome.kept_finetunes[1][0] - outcome.kept_finetunes[0][0] == 2 * 4  # contiguous patches
    assert outcome.control_psnr is not None and outcome.control_psnr != outcome.final_psnr


def test_plan_previews_one_shot_cuts_against_a_hand_count(
    sr_baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tiny EDSR (16 features, 2 resblocks) conv MACs per LR pixel: head 3*16*9, 5 trunk/block convs 16*16*9,
    # upsampler 16*64*9 (feeds the pixel shuffle: outputs whole), tail 16*3*9 at 4 HR pixels = 22,896.
    # q = 1000 puts every channel below the threshold, so every prunable group keeps g = 4 channels:
    # 3*4*9 + 5*4*4*9 + 4*64*9 + 4*16*3*9 = 4,860 -> 21.23 %.
    argv = ["optimize", "prune", str(sr_baseline), "--task", "sr-set5-x2", "--plan", "0", "1000", "-g", "4"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("q 0: MACs 100.0 %, params 100.0 %") and lines[1].endswith("no layer cut")
    assert lines[2].startswith(f"q 1000: MACs {4860 / 22896 * 100:.1f} %")
    assert "body.0.body.0 4/16" in lines[2] and "upsample" not in lines[2]


def tiny_unet() -> Any:  # the sRGB SID U-Net at 3 levels, widths 8, 16, 32
    torch.manual_seed(0)
    return build_model("sid-unet-srgb", {"width": 8, "levels": 3}, {}).eval()


def test_unet_skip_is_cut_at_the_right_concat_offset() -> None:
    """Four of encoder 0's skip channels are zeroed (filters and their consumers' input slices at the true
    offsets, so their group saliency is 0): removing them must leave the output unchanged. The decoder's
    concat is [upsampled 8 channels, skip 8 channels], so this holds only if the cut lands on inputs
    8 + {1, 3, 5, 7} of decoder 0 (the pixel shuffle before the concat must count 8 channels, not its
    input's 32), and on the next encoder's inputs {1, 3, 5, 7}."""
    model, example = tiny_unet(), torch.rand(1, 3, 32, 32)
    x = torch.rand(1, 3, 40, 36, generator=torch.Generator().manual_seed(1))
    conv = model.encoders[0][2]
    with torch.no_grad():
        conv.weight[[1, 3, 5, 7]] = 0.0
        conv.bias[[1, 3, 5, 7]] = 0.0
        model.encoders[1][0].weight[:, [1, 3, 5, 7]] = 0.0
        model.decoders[0][0].weight[:, [9, 11, 13, 15]] = 0.0
        before = model(x)
    cuts = [c for c in plan_cuts(model, example, q=1.0, multiple=4) if c.root == "encoders.0.2"]
    assert len(cuts) == 1 and cuts[0].drop == (1, 3, 5, 7) and cuts[0].kept == 4
    apply_cuts(model, example, cuts)
    assert model.encoders[0][2].out_channels == 4 and model.encoders[1][0].in_channels == 4
    assert model.decoders[0][0].in_channels == 8 + 4 and model.ups[0][0].out_channels == 32
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=0, atol=1e-6)


def test_unet_cut_everywhere_keeps_shuffles_whole_and_rebuilds_exactly() -> None:
    model, example = tiny_unet(), torch.rand(1, 3, 32, 32)
    cuts = {c.root for c in plan_cuts(model, example, q=1e3, multiple=4)}
    assert {"encoders.0.2", "encoders.1.2", "decoders.0.2", "encoders.2.2"} <= cuts  # skips and bottleneck
    assert not cuts & {"ups.0.0", "ups.1.0", "out.0"}
    apply_cuts(model, example, plan_cuts(model, example, q=1e3, multiple=4))
    assert [up[0].out_channels for up in model.ups] == [32, 64] and model.out[0].out_channels == 12
    assert [up[0].in_channels for up in model.ups] == [4, 4]  # their inputs are pruned
    layers = changed_layers(tiny_unet(), model)
    rebuilt = build_model("pruned", {"base": {"name": "sid-unet-srgb", "args": {"width": 8, "levels": 3}},
                                     "layers": layers}, {})  # fmt: skip
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(1, 3, 30, 34)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (1, 3, 30, 34) and torch.equal(rebuilt.eval()(x), out)


def test_max_cut_caps_each_group_per_round() -> None:
    # q = 1000 marks every channel; uncapped, each 16-channel group keeps g = 4. max_cut 0.5 keeps
    # ceil(16 * 0.5 / 4) * 4 = 8; 0.6 keeps ceil(6.4 / 4) * 4 = 8 too (rounded up to g); 0.75 keeps 4;
    # 0.2 keeps ceil(12.8 / 4) * 4 = 16, so nothing is cut.
    model, example = tiny_edsr(), torch.rand(1, 3, 12, 12)
    uncapped = plan_cuts(model, example, q=1e3, multiple=4)
    assert uncapped and {c.kept for c in uncapped} == {4}
    for max_cut, kept in ((0.5, 8), (0.6, 8), (0.75, 4)):
        cuts = plan_cuts(model, example, q=1e3, multiple=4, max_cut=max_cut)
        assert {c.root for c in cuts} == {c.root for c in uncapped} and {c.kept for c in cuts} == {kept}
    assert plan_cuts(model, example, q=1e3, multiple=4, max_cut=0.2) == []


@pytest.mark.parametrize("upsample", ["deconv", "deconv-subpixel"])
def test_fsrcnn_deconv_inputs_are_cut_exactly_and_the_pruned_model_rebuilds(upsample: str) -> None:
    """FSRCNN's expand layer (12 -> 56) feeds the 9x9 deconv. Eight of its filters are zeroed with their
    PReLU slopes and the deconv's input slices, so removing them must leave the output unchanged: the cut
    has to reach the deconv's inputs (dim 0 of its C_in x C_out x 9 x 9 weight) in either form, and the
    pruned architecture has to rebuild the narrower deconv from the manifest's sizes."""
    args = {"scale": 2, "upsample": upsample}
    torch.manual_seed(0)
    model, example = build_model("fsrcnn", args, {}).eval(), torch.rand(1, 3, 12, 12)
    dropped = [0, 7, 13, 21, 30, 38, 44, 55]
    with torch.no_grad():
        model.net.up.weight.normal_(0.0, 0.05)
        model.net.body[12].weight[dropped] = 0.0  # the expand conv's filters
        model.net.body[12].bias[dropped] = 0.0
        model.net.up.weight[dropped] = 0.0
        x = torch.rand(1, 3, 10, 14, generator=torch.Generator().manual_seed(1))
        before = model(x)
    cuts = [c for c in plan_cuts(model, example, q=1.0, multiple=4) if c.root == "net.body.12"]
    assert len(cuts) == 1 and set(dropped) <= set(cuts[0].drop)
    cuts = [type(cuts[0])("net.body.12", 56, 48, tuple(dropped))]  # exactly the zeroed ones
    apply_cuts(model, example, cuts)
    assert model.net.body[12].out_channels == 48 and model.net.up.weight.shape[:2] == (48, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=0, atol=1e-6)
    layers = changed_layers(build_model("fsrcnn", args, {}), model)
    assert layers["net.up"] == [1, 48]
    rebuilt = build_model("pruned", {"base": {"name": "fsrcnn", "args": args}, "layers": layers}, {})
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))
