"""SID Sony source: the pure packing/ratio/list rules, then end to end through rawpy on DNG files made here.

LibRaw identifies raw files by content, so a minimal uncompressed DNG named ``*.ARW`` stands in for
a Sony ARW (LibRaw needs at least 22 x 22 pixels). The DNGs carry their own black/white levels.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data.sid import (
    DEFAULT_EXCLUDED,
    ListedPair,
    RawReadError,
    SIDSony,
    exposure_ratio,
    gt_to_uint8,
    pack_bayer,
    parse_name,
    parse_test_list,
    scale_exposure,
    select_pairs,
)
from bench.data.sources import SOURCES, DataNotFound
from tests.conftest import REPO

LIST = """\
./Sony/short/10003_00_0.04s.ARW ./Sony/long/10003_00_10s.ARW ISO200 F9
./Sony/short/10003_01_0.04s.ARW ./Sony/long/10003_00_10s.ARW ISO200 F9
./Sony/short/10003_00_0.1s.ARW ./Sony/long/10003_00_10s.ARW ISO200 F9

./Sony/short/10034_00_0.1s.ARW ./Sony/long/10034_00_30s.ARW ISO800 F5.6
./Sony/short/10040_00_0.033s.ARW ./Sony/long/10040_00_10s.ARW ISO400 F8
./Sony/short/10045_00_0.04s.ARW ./Sony/long/10045_00_10s.ARW ISO400 F8
./Sony/short/10172_02_0.1s.ARW ./Sony/long/10172_00_10s.ARW ISO400 F8
"""


# ---------------------------------------------------------------- pure functions


def test_parse_name() -> None:
    assert parse_name("10003_00_0.04s.ARW").exposure == pytest.approx(0.04)
    assert parse_name("./Sony/long/10003_00_10s.ARW") == parse_name("10003_00_10s")
    name = parse_name("./Sony/short/10172_02_0.1s.ARW")
    assert (name.scene, name.frame, name.exposure) == (10172, 2, pytest.approx(0.1))
    for bad in ("IMG_0001.ARW", "10003_00_s.ARW", "10003_00_0s.ARW", "10003_0.1s.ARW"):
        with pytest.raises(ValueError):
            parse_name(bad)


def test_exposure_ratio_and_cap() -> None:
    assert exposure_ratio("10003_00_0.1s.ARW", "10003_00_10s.ARW") == pytest.approx(100.0)
    assert exposure_ratio("10003_00_0.04s.ARW", "10003_00_10s.ARW") == pytest.approx(250.0)
    assert exposure_ratio("10040_00_0.033s.ARW", "10040_00_10s.ARW") == 300.0  # 303.03 capped
    assert exposure_ratio("10034_00_0.1s.ARW", "10034_00_30s.ARW") == 300.0
    assert exposure_ratio("10040_00_0.033s.ARW", "10040_00_10s.ARW", cap=1000) == pytest.approx(10 / 0.033)


def test_parse_test_list() -> None:
    pairs = parse_test_list(LIST)
    assert len(pairs) == 7
    assert pairs[0] == ListedPair("./Sony/short/10003_00_0.04s.ARW", "./Sony/long/10003_00_10s.ARW", 200, 9.0)
    assert pairs[3].fnumber == 5.6 and pairs[3].iso == 800
    assert parse_test_list("# comment\na.ARW b.ARW\n") == [ListedPair("a.ARW", "b.ARW")]
    with pytest.raises(ValueError, match="line 2"):
        parse_test_list("a b\nlonely\n")


def test_select_first_frames_and_exclusions() -> None:
    pairs = parse_test_list(LIST)
    stems = [Path(p.short).stem for p in select_pairs(pairs)]
    assert stems == ["10003_00_0.04s", "10003_00_0.1s", "10040_00_0.033s"]
    assert set(DEFAULT_EXCLUDED) == {10034, 10045, 10172}
    kept = [Path(p.short).stem for p in select_pairs(pairs, exclude_scenes=[])]
    assert kept == ["10003_00_0.04s", "10003_00_0.1s", "10034_00_0.1s", "10040_00_0.033s", "10045_00_0.04s"]
    everything = select_pairs(pairs, exclude_scenes=["10034"], first_frame_only=False)
    assert len(everything) == 6 and all("10034" not in p.short for p in everything)


def _mosaic(values: tuple[int, int, int, int], height: int = 4, width: int = 6) -> np.ndarray:
    """An RGGB mosaic whose R, G1 (row 0), B, G2 (row 1) sites hold the given values."""
    r, g1, b, g2 = values
    mosaic = np.empty((height, width), dtype=np.uint16)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2], mosaic[1::2, 1::2], mosaic[1::2, 0::2] = r, g1, b, g2
    return mosaic


def test_pack_bayer_channel_order_and_levels() -> None:
    packed = pack_bayer(_mosaic((1000, 2000, 3000, 4000)), black=0, white=10000)
    assert packed.shape == (2, 3, 4) and packed.dtype == np.float32
    np.testing.assert_allclose(packed[1, 2], [0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    # black level subtracted, negatives clipped to 0, divided by white - black
    packed = pack_bayer(_mosaic((512, 400, 16383, 512 + 1587)), black=512, white=16383)
    np.testing.assert_allclose(packed[0, 0], [0.0, 0.0, 1.0, 1587 / 15871], rtol=1e-6)
    # per-channel black levels, in pack order
    packed = pack_bayer(_mosaic((600, 700, 800, 900)), black=(100, 200, 300, 400), white=1100)
    np.testing.assert_allclose(packed[0, 0], [0.5, 500 / 900, 500 / 800, 500 / 700], rtol=1e-6)
    # odd sizes: the trailing row/column is dropped
    assert pack_bayer(np.zeros((5, 7), np.uint16), 0, 1).shape == (2, 3, 4)


def test_pack_bayer_matches_official_pack_raw(rng: np.random.Generator) -> None:
    raw = rng.integers(0, 16384, size=(8, 10)).astype(np.uint16)
    im = np.maximum(raw.astype(np.float32) - 512, 0) / (16383 - 512)  # test_Sony.py pack_raw
    official = np.concatenate(
        (im[0::2, 0::2, None], im[0::2, 1::2, None], im[1::2, 1::2, None], im[1::2, 0::2, None]), axis=2
    )
    np.testing.assert_array_equal(pack_bayer(raw, 512, 16383), official)


def test_scale_exposure_multiplies_and_clips() -> None:
    packed = np.array([[[0.0, 0.001, 0.004, 0.5]]], dtype=np.float32)
    out = scale_exposure(packed, 250.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [0.0, 0.25, 1.0, 1.0], rtol=1e-6)


def test_gt_to_uint8() -> None:
    rgb16 = np.array([[[0, 65535, 257 * 100], [128, 129, 32896]]], dtype=np.uint16)
    np.testing.assert_array_equal(gt_to_uint8(rgb16), [[[0, 255, 100], [0, 1, 128]]])


def test_import_is_light_and_registers() -> None:
    assert SOURCES["sid-sony"] is SIDSony
    code = "import sys, bench.data.sid; print('rawpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- layout (no raw decoding)


def _layout(root: Path, text: str = LIST, nested: bool = True) -> Path:
    sony = root / "Sony" if nested else root
    for sub in ("short", "long"):
        (sony / sub).mkdir(parents=True, exist_ok=True)
    (root / "Sony_test_list.txt").write_text(text)
    return sony


def test_index_paths_meta_and_both_folder_conventions(tmp_path: Path) -> None:
    sony = _layout(tmp_path / "SID")
    for folder in (tmp_path / "SID", sony):  # the SID root, or the Sony directory with the list in its parent
        entries = SIDSony(folder).index()
        assert [e.id for e in entries] == ["10003_00_0.04s", "10003_00_0.1s", "10040_00_0.033s"]
        first = entries[0]
        assert first.input == sony / "short" / "10003_00_0.04s.ARW"
        assert first.target == sony / "long" / "10003_00_10s.ARW"
        assert first.meta == {
            "scene": 10003, "exposure_in": 0.04, "exposure_gt": 10.0, "ratio": pytest.approx(250.0),
            "iso": 200, "fnumber": 9.0,
        }  # fmt: skip
        assert entries[2].meta["ratio"] == 300.0
    assert len(SIDSony(tmp_path / "SID", exclude_scenes=[]).index()) == 5
    flat = _layout(tmp_path / "flat", nested=False)  # Sony directory holding its own list
    assert SIDSony(flat).index()[0].input == flat / "short" / "10003_00_0.04s.ARW"
    inside = _layout(tmp_path / "inside")  # SID root whose list sits in Sony/
    (tmp_path / "inside" / "Sony_test_list.txt").rename(inside / "Sony_test_list.txt")
    assert SIDSony(tmp_path / "inside").index()[0].target == inside / "long" / "10003_00_10s.ARW"


def test_index_missing_layout_is_data_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataNotFound, match=r"Sony_test_list\.txt"):
        SIDSony(tmp_path).index()
    (tmp_path / "Sony_test_list.txt").write_text(LIST)
    with pytest.raises(DataNotFound, match="short/ or long/"):
        SIDSony(tmp_path).index()
    _layout(tmp_path, "./Sony/short/garbage.ARW ./Sony/long/10003_00_10s.ARW\n")
    with pytest.raises(DataNotFound, match=r"cannot parse .*Sony_test_list.txt.*garbage\.ARW"):
        SIDSony(tmp_path).index()


# ---------------------------------------------------------------- end to end through rawpy


def write_dng(
    path: Path, mosaic: np.ndarray, black: int = 512, white: int = 16383, cfa: tuple[int, ...] = (0, 1, 1, 2)
) -> None:
    """A minimal uncompressed CFA DNG (default RGGB) that LibRaw opens; identity colour matrix, neutral WB."""
    import tifffile

    identity = (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)
    tags = [
        (271, "s", 0, "Test", True),  # Make
        (272, "s", 0, "SID fixture", True),  # Model
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, cfa, True),  # CFAPattern: 0 1 1 2 = R G / G B
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "SID fixture", True),  # UniqueCameraModel
        (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),  # CFALayout: rectangular
        (50713, "H", 2, (1, 1), True),  # BlackLevelRepeatDim
        (50714, "H", 1, black, True),  # BlackLevel
        (50717, "H", 1, white, True),  # WhiteLevel
        (50721, "2i", 9, identity, True),  # ColorMatrix1
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, mosaic.astype(np.uint16), photometric=32803, subfiletype=0, extratags=tags)


def _sid_fixture(root: Path, rng: np.random.Generator, black: int = 512, white: int = 16383) -> dict[str, np.ndarray]:
    """Two test pairs (scenes 10003 and 10040) plus an excluded scene, as DNG files named .ARW."""
    text = (
        "./Sony/short/10003_00_0.04s.ARW ./Sony/long/10003_00_10s.ARW ISO200 F9\n"
        "./Sony/short/10003_01_0.04s.ARW ./Sony/long/10003_00_10s.ARW ISO200 F9\n"
        "./Sony/short/10034_00_0.1s.ARW ./Sony/long/10034_00_10s.ARW ISO200 F9\n"
        "./Sony/short/10040_00_0.033s.ARW ./Sony/long/10040_00_10s.ARW ISO400 F8\n"
    )
    sony = _layout(root, text)
    mosaics = {}
    for listed in {p for pair in parse_test_list(text) for p in (pair.short, pair.long)}:
        path = sony / Path(listed).relative_to("Sony")
        high = white if "long" in listed else black + 200
        mosaics[path.stem] = rng.integers(max(black - 20, 0), high, size=(32, 48)).astype(np.uint16)
        write_dng(path, mosaics[path.stem], black, white)
    return mosaics


def test_dng_round_trip_through_rawpy(tmp_path: Path, rng: np.random.Generator) -> None:
    import rawpy

    mosaic = rng.integers(0, 16384, size=(32, 48)).astype(np.uint16)
    write_dng(tmp_path / "frame.ARW", mosaic)
    with rawpy.imread(str(tmp_path / "frame.ARW")) as raw:
        np.testing.assert_array_equal(raw.raw_image_visible, mosaic)
        assert raw.color_desc == b"RGBG" and raw.raw_pattern is not None
        assert raw.raw_pattern.tolist() == [[0, 1], [3, 2]]
        assert list(raw.black_level_per_channel) == [512] * 4 and raw.white_level == 16383


def test_end_to_end_index_load_check(tmp_path: Path, rng: np.random.Generator) -> None:
    mosaics = _sid_fixture(tmp_path, rng)
    source = SIDSony(tmp_path)
    entries = source.index()
    problems = source.check(entries)
    assert problems == []
    assert [e.id for e in entries] == ["10003_00_0.04s", "10040_00_0.033s"]
    items = list(source.items())
    for item, ratio in zip(items, (250.0, 300.0), strict=True):
        assert item.input is not None and item.input.dtype == np.float32 and item.input.shape == (16, 24, 4)
        expected = np.minimum(pack_bayer(mosaics[item.id], 512, 16383) * np.float32(ratio), 1)
        np.testing.assert_allclose(item.input, expected, rtol=1e-6)
        assert item.input.min() >= 0 and item.input.max() == 1.0
        assert item.target.dtype == np.uint8 and item.target.shape == (32, 48, 3) and item.target.max() > 0
        assert item.meta["black_level"] == [512.0] * 4 and item.meta["white_level"] == 16383.0
        assert item.meta["levels_from"] == "file" and item.meta["ratio"] == pytest.approx(ratio)
    import rawpy

    with rawpy.imread(str(entries[0].target)) as raw:
        rgb16 = raw.postprocess(use_camera_wb=True, half_size=False, no_auto_bright=True, output_bps=16)
    np.testing.assert_array_equal(items[0].target, np.rint(rgb16 / 65535 * 255).astype(np.uint8))


def test_levels_come_from_the_file_unless_overridden(tmp_path: Path, rng: np.random.Generator) -> None:
    mosaics = _sid_fixture(tmp_path, rng, black=256, white=4095)
    item = SIDSony(tmp_path).load(SIDSony(tmp_path).index()[0])
    assert item.input is not None
    assert item.meta["black_level"] == [256.0] * 4 and item.meta["white_level"] == 4095.0
    np.testing.assert_allclose(item.input, scale_exposure(pack_bayer(mosaics[item.id], 256, 4095), 250), rtol=1e-6)
    forced = SIDSony(tmp_path, black_level=512, white_level=16383)
    item = forced.load(forced.index()[0])
    assert item.input is not None and item.meta["levels_from"] == "option" and item.meta["black_level"] == [512.0] * 4
    np.testing.assert_allclose(item.input, scale_exposure(pack_bayer(mosaics[item.id], 512, 16383), 250), rtol=1e-6)


def test_check_reports_missing_truncated_and_corrupt_files(tmp_path: Path, rng: np.random.Generator) -> None:
    _sid_fixture(tmp_path, rng)
    sony = tmp_path / "Sony"
    (sony / "long" / "10003_00_10s.ARW").unlink()
    truncated = sony / "short" / "10040_00_0.033s.ARW"
    truncated.write_bytes(truncated.read_bytes()[:2000])
    corrupt = sony / "long" / "10040_00_10s.ARW"
    corrupt.write_bytes(b"not a raw file" * 100)
    source = SIDSony(tmp_path)
    entries = source.index()
    problems = source.check(entries)
    assert len(entries) == 2
    found = {p.path.name: p.message for p in problems}
    assert set(found) == {"10003_00_10s.ARW", "10040_00_0.033s.ARW", "10040_00_10s.ARW"}
    assert found["10003_00_10s.ARW"] == "missing target raw file"
    assert found["10040_00_0.033s.ARW"].startswith("unreadable input") and "LibRaw" in found["10040_00_0.033s.ARW"]
    assert found["10040_00_10s.ARW"].startswith("unreadable target") and "Unsupported" in found["10040_00_10s.ARW"]
    with pytest.raises(RawReadError, match=r"10040_00_0\.033s\.ARW"):
        SIDSony(tmp_path).load(entries[1])


def test_check_reports_size_mismatch(tmp_path: Path, rng: np.random.Generator) -> None:
    _sid_fixture(tmp_path, rng)
    write_dng(tmp_path / "Sony" / "short" / "10003_00_0.04s.ARW", np.full((32, 44), 600, np.uint16))
    source = SIDSony(tmp_path)
    problems = source.check(source.index())
    assert len(problems) == 1 and "size mismatch: packed input is 22x16, expected 24x16" in problems[0].message


def test_check_reports_unexpected_bayer_pattern(tmp_path: Path, rng: np.random.Generator) -> None:
    _sid_fixture(tmp_path, rng)
    grbg = tmp_path / "Sony" / "short" / "10040_00_0.033s.ARW"
    write_dng(grbg, np.full((32, 48), 600, np.uint16), cfa=(1, 0, 2, 1))
    source = SIDSony(tmp_path)
    problems = source.check(source.index())
    assert [p.path for p in problems] == [grbg] and "expected RGBG" in problems[0].message


def test_packed_raw_model_passes_the_probe_checks(tmp_path: Path) -> None:
    """A SID U-Net returns twice its packed input's size (``output_scale: 2``): the probe expects that."""
    import yaml
    from safetensors.torch import save_file

    from bench.models import build_model
    from bench.submission import load_submission
    from bench.tasks import get_task
    from bench.validation import check_task

    task = get_task("lowlight-sid-sony")
    assert task.size_ratio == 2 and get_task("lowlight-demo").size_ratio == 1 and get_task("sr-set5-x3").size_ratio == 3
    model = build_model("sid-unet", {"width": 8}, {})
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "model.safetensors"))
    manifest = {"schema_version": 1, "name": "tiny-sid", "team": "t", "tasks": ["lowlight-sid-sony"],
                "format": "safetensors", "architecture": {"name": "sid-unet", "args": {"width": 8}},
                "files": {"weights": "model.safetensors"},
                "io": {"range": [0.0, 1.0], "layout": "NCHW", "colour": "RGB"}, "precision": "fp32", "tags": [],
                "training_data": "none", "licence": "MIT"}  # fmt: skip
    (tmp_path / "submission.yaml").write_text(yaml.safe_dump(manifest))
    checks = {c.name: c for c in check_task(load_submission(tmp_path), task)}
    assert checks["output shape"].ok, checks["output shape"].detail
    assert "(1, 3, 96, 96)" in checks["output shape"].detail
