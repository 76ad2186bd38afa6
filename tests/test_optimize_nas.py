"""bench optimize nas: the search space, pruning-scheme masks, the supernet, the latency units, a tiny search."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from bench.cli import main
from bench.models import build_model
from bench.models.nas_arch import NasSR
from bench.optimize.nas.ranking import spread_candidates
from bench.optimize.nas.schemes import PATTERNS, attach_mask, bake_masks, block_mask, pattern_mask
from bench.optimize.nas.search import Evaluated
from bench.optimize.nas.space import CELL_LAYERS, Candidate, CellChoice, SearchSpace, kept, layer_menu
from bench.optimize.nas.supernet import RandomPaths, SuperNet
from bench.runtime.layer_table import decompose
from bench.submission import load_submission


def test_every_pattern_holds_the_centre_and_four_weights() -> None:
    assert PATTERNS.shape == (8, 3, 3)
    assert (PATTERNS.sum(dim=(1, 2)) == 4).all() and (PATTERNS[:, 1, 1] == 1).all()
    assert len({tuple(p.flatten().tolist()) for p in PATTERNS}) == 8


def test_pattern_mask_keeps_the_strongest_pattern_then_drops_the_weakest_kernels() -> None:
    weight = torch.zeros(2, 2, 3, 3)
    weight[0, 0] = torch.tensor([[0.0, 5.0, 0.0], [4.0, 1.0, 3.0], [0.1, 0.0, 0.2]])  # up + left + right wins
    weight[0, 1] = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.1, 0.1]])  # the weakest kernel
    weight[1, 0] = torch.tensor([[0.0, 0.0, 0.0], [0.0, 2.0, 6.0], [0.0, 7.0, 8.0]])  # down + right + corner
    weight[1, 1] = torch.tensor([[3.0, 3.0, 0.0], [3.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # up + left + corner
    mask = pattern_mask(weight, ratio=0.0)
    assert mask[0, 0].tolist() == [[0, 1, 0], [1, 1, 1], [0, 0, 0]]
    assert mask[1, 0].tolist() == [[0, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert mask[1, 1].tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    dropped = pattern_mask(weight, ratio=0.25)  # floor(0.25 * 4) = 1 kernel removed: the weakest
    assert dropped[0, 1].sum() == 0 and torch.equal(dropped[[0, 1, 1], [0, 0, 1]], mask[[0, 1, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match="3x3"):
        pattern_mask(torch.ones(2, 2, 1, 1), 0.5)


def test_block_mask_zeros_the_lowest_energy_8x4_blocks_including_partial_edges() -> None:
    weight = torch.ones(12, 3, 3, 3)  # matrix 12 x 27: blocks of 8 x 4 -> 2 x 7 grid, edges partial
    weight.view(12, 27)[8:, 24:] = 0.01  # the corner block (rows 8-11, columns 24-26) is the weakest
    weight.view(12, 27)[:8, :4] = 0.02  # then the first full block
    mask = block_mask(weight, ratio=2 / 14)
    matrix = mask.view(12, 27)
    assert matrix[8:, 24:].sum() == 0 and matrix[:8, :4].sum() == 0
    assert matrix.sum() == 12 * 27 - 4 * 3 - 8 * 4


def test_fixed_masks_survive_training_and_bake_into_plain_weights() -> None:
    conv = torch.nn.Conv2d(4, 4, 3, padding=1)
    mask = pattern_mask(conv.weight, 0.5)
    attach_mask(conv, mask)
    optimizer = torch.optim.SGD(conv.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        conv(torch.randn(1, 4, 6, 6)).square().mean().backward()
        optimizer.step()
    bake_masks(torch.nn.Sequential(conv))
    assert isinstance(conv.weight, torch.nn.Parameter)
    assert (conv.weight.detach()[mask == 0] == 0).all() and (conv.weight.detach()[mask == 1] != 0).all()


def test_space_rules() -> None:
    assert kept(32, 0.5) == 16 and kept(24, 0.75) == 8 and kept(20, 0.25) == 16 and kept(8, 0.75) == 8
    edsr = CellChoice("edsr")
    assert edsr.schemes == ("dense", "dense") and edsr.widths(24) == (24,)
    assert CellChoice("wdsr-b", ("filter", "filter", "block"), (0.5, 0.25, 0.5)).widths(32) == (64, 24)
    with pytest.raises(ValueError, match="not allowed"):
        CellChoice("wdsr-b", ("pattern", "dense", "dense"))  # no 3x3 pattern on a 1x1 conv
    with pytest.raises(ValueError, match="not allowed"):
        CellChoice("edsr", ("dense", "filter"))  # the cell's last conv feeds the trunk: its filters stay
    with pytest.raises(ValueError, match="multiples of 8"):
        SearchSpace(widths=(12,))
    assert layer_menu(CELL_LAYERS["edsr"][0]) == ("dense", "filter", "pattern", "block")
    assert layer_menu(CELL_LAYERS["edsr"][1]) == ("dense", "pattern", "block")
    assert layer_menu(CELL_LAYERS["wdsr-b"][1]) == ("dense", "filter", "block")
    candidate = Candidate(16, (CellChoice("wdsr-a", ("filter", "pattern"), (0.75, 0.5)), CellChoice("identity")))
    assert Candidate.from_json(json.loads(json.dumps(candidate.to_json()))) == candidate


def test_nas_sr_without_learnt_residual_is_a_nearest_upscale() -> None:
    model = NasSR(2, 8, [{"block": "edsr"}, {"block": "wdsr-b"}])
    torch.nn.init.zeros_(model.out.conv.weight)
    torch.nn.init.zeros_(model.out.conv.bias)  # type: ignore[arg-type]  # the conv has a bias
    x = torch.rand(1, 3, 10, 14)
    assert torch.allclose(model(x), F.interpolate(x, scale_factor=2, mode="nearest"), atol=1e-6)


def test_supernet_paths_and_extracted_models_agree() -> None:
    torch.manual_seed(0)
    supernet = SuperNet(SearchSpace(widths=(8, 16), cells=3), scale=2)
    rng, x = random.Random(3), torch.rand(1, 3, 12, 10)
    for n in range(12):
        sampled = supernet.sample(rng)
        sparse = tuple(
            CellChoice(c.block, tuple("block" if s == "dense" else s for s in c.schemes), ()) for c in sampled.cells
        )
        candidate = Candidate(sampled.width, sparse) if n % 2 else sampled
        extracted = supernet.extract(candidate).eval()
        with torch.no_grad():
            assert torch.allclose(supernet(x, candidate), extracted(x), atol=1e-6)
        bake_masks(extracted)
        rebuilt = build_model("nas-sr", candidate.arch_args(), {"scale": 2})
        rebuilt.load_state_dict(extracted.state_dict(), strict=True)


def test_sparse_share_zero_draws_the_dense_and_filter_paths_and_one_trains_masked_paths() -> None:
    supernet = SuperNet(SearchSpace(widths=(8, 16), cells=4), scale=2)
    plain, zero = random.Random(5), random.Random(5)
    for _ in range(20):
        assert supernet.sample(plain) == supernet.sample(zero, sparse_share=0.0)
    always = random.Random(5)
    for _ in range(20):
        for cell in supernet.sample(always, sparse_share=1.0).cells:
            for layer, scheme, ratio in zip(CELL_LAYERS[cell.block], cell.schemes, cell.ratios, strict=True):
                # every layer has "block" on its menu, so a share of 1 masks every layer
                assert scheme in ("pattern", "block") and ratio in (0.25, 0.5, 0.75), (layer, scheme)
    # a masked training path: the weights its mask zeroes get no gradient, the others do
    torch.manual_seed(0)
    paths = RandomPaths(SuperNet(SearchSpace(widths=(8,), cells=1, blocks=("edsr",)), scale=2), seed=1,
                        sparse_share=1.0)  # fmt: skip
    rng = random.Random(1)
    candidate = paths.supernet.sample(rng, 1.0)
    paths(torch.rand(2, 3, 8, 8)).abs().sum().backward()
    cell = paths.supernet.cells[0]
    choice = candidate.cells[0]
    for (conv, out_ch, in_ch), scheme, ratio in zip(cell.slices(choice, 8), choice.schemes, choice.ratios,
                                                    strict=True):  # fmt: skip
        mask = (block_mask if scheme == "block" else pattern_mask)(conv.weight[:out_ch, :in_ch], ratio)
        grad = conv.weight.grad[:out_ch, :in_ch]
        assert mask.sum() < mask.numel()
        assert torch.all(grad[mask == 0] == 0) and torch.any(grad[mask == 1] != 0)


def _evaluated(psnrs: list[float]) -> list[Evaluated]:
    return [Evaluated("architecture", n, {"width": 8, "n": n}, f"c{n}", psnr, 10.0, True, 100)
            for n, psnr in enumerate(psnrs)]  # fmt: skip


def test_ranking_check_spreads_its_candidates_over_the_supernet_psnr_range() -> None:
    log = _evaluated([30.0, 31.5, 29.0, 33.0, 32.0, 30.5, 34.0])
    log.append(log[3])  # a repeated trial counts once
    picked = spread_candidates(log, 4)
    # sorted: 29.0, 30.0, 30.5, 31.5, 32.0, 33.0, 34.0 -> positions 0, 2, 4, 6
    assert [r.psnr for r in picked] == [29.0, 30.5, 32.0, 34.0]
    assert [r.psnr for r in spread_candidates(log, 10)] == sorted({r.psnr for r in log})


def test_cells_and_output_stage_are_whole_latency_units() -> None:
    model = NasSR(2, 16, [{"block": "edsr", "inner": 8}, {"block": "identity"}, {"block": "wdsr-b"}])
    units, unmodelled = decompose(model, (1, 3, 20, 24))
    assert unmodelled == []
    assert [u.key for u in units] == [
        "Conv2d(3,16,k(3, 3),s(1, 1),p(1, 1),d(1, 1),g1,bTrue)@1x3x20x24",
        "edsr(16,8)@1x16x20x24",
        "wdsr-b(16,64,8)@1x16x20x24",
        "subpixel-out(16,x2)@1x16x20x24",
    ]
    probe = units[-1].module  # a one-input stand-in for the two-input output stage
    assert probe(torch.rand(1, 16, 20, 24)).shape == (1, 3, 40, 48)


def test_tiny_search_end_to_end(train_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nas"
    code = main([
        "optimize", "nas", "--task", "sr-set5-x2", "--device", "cpu-torch", "--budget-ms", "1000",
        "--widths", "8,16", "--cells", "2", "--supernet-steps", "6", "--trials", "5", "--ratio-trials", "3",
        "--final-steps", "4", "--batch", "4", "--patch", "16", "--check", "2", "--latency-shape", "1x3x16x16",
        "--table", str(tmp_path / "table.json"), "--data", str(train_folder), "--held-out", "1",
        "--held-out-crop", "48", "--out", str(out), "--quiet", "--rank-candidates", "3", "--rank-steps", "2",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((out / "nas-report.json").read_text())
    ranking = report["ranking"]
    assert ranking["steps"] == 2 and len(ranking["candidates"]) == 3
    supernet = [c["supernet_psnr"] for c in ranking["candidates"]]
    standalone = [c["standalone_psnr"] for c in ranking["candidates"]]
    assert supernet == sorted(supernet) and all(20 < p < 60 for p in standalone)
    # tau-b by hand over the three pairs (no ties expected between distinct float PSNRs)
    pairs = [(i, j) for i in range(3) for j in range(i + 1, 3)]
    agree = sum(1 if (supernet[j] - supernet[i]) * (standalone[j] - standalone[i]) > 0 else -1 for i, j in pairs)
    assert ranking["kendall_tau"] == pytest.approx(agree / 3)
    assert (
        "Kendall tau" in printed
        and "Supernet ranking against standalone training" in (out / "MODEL_CARD.md").read_text()
    )
    phases = [row["phase"] for row in report["evaluated"]]
    assert phases.count("architecture") == 5 and phases.count("ratios") in (0, 3)
    feasible = [row for row in report["evaluated"] if row["feasible"]]
    assert report["candidate"] in [row["candidate"] for row in feasible]
    assert all(row["latency_ms"] > 0 for row in report["evaluated"])
    assert report["latency_check"][0]["model"] == "final" and len(report["latency_check"]) == 3
    assert set(report["search_cost_s"]) >= {"supernet_training", "search", "final_finetune", "latency_check"}
    table = json.loads((tmp_path / "table.json").read_text())
    assert table["device"] == "cpu-torch" and any(key.startswith("subpixel-out(") for key in table["entries"])
    submission = load_submission(out)
    assert submission.manifest.architecture is not None and submission.manifest.architecture.name == "nas-sr"
    model = submission.build({"scale": 2})
    weights = load_file(str(out / "model.safetensors"))
    assert set(weights) == set(model.state_dict())
    assert "latency model against end-to-end measurement" in printed and "NAS submission" in printed


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nas = ["optimize", "nas", "--budget-ms", "50"]
    assert main([*nas, "--task", "denoise-cbsd68-s25", "--out", str(tmp_path / "a")]) == 2
    assert "super-resolution" in capsys.readouterr().err
    assert main([*nas, "--task", "sr-set5-x2", "--widths", "12"]) == 2
    assert "multiples of 8" in capsys.readouterr().err
    (tmp_path / "exists").mkdir()
    assert main([*nas, "--task", "sr-set5-x2", "--out", str(tmp_path / "exists")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*nas, "--task", "sr-set5-x2", "--rank-candidates", "2", "--out", str(tmp_path / "b")]) == 2
    assert "--rank-candidates is 0" in capsys.readouterr().err
