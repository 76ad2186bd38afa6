"""See-in-the-Dark, Sony subset (Chen et al. 2018), read from its official layout: ``sid-sony``.

Layout: ``folder`` is either the SID root (``folder/Sony_test_list.txt``, ``folder/Sony/short/*.ARW``,
``folder/Sony/long/*.ARW``) or the ``Sony`` directory itself (``folder/short``, ``folder/long``). The
Sony directory is ``folder/Sony`` when that exists, else ``folder``; the list is looked for in
``folder``, then in the Sony directory, then in ``folder``'s parent. List lines read
``./Sony/short/<short>.ARW ./Sony/long/<long>.ARW ISO200 F9``; each path is resolved against the Sony
directory after dropping its leading ``./`` and ``Sony/``, so both shapes read the same list.

Protocol (protocols.md section 2, official ``test_Sony.py``): first burst frame (``<scene>_00_<t>s``)
only; scenes 10034, 10045, 10172 dropped; ratio = min(exposure_gt / exposure_in, 300) from the names.
Input: visible Bayer mosaic, ``max(x - black, 0) / (white - black)``, 2x2 cells packed into R, G1, B,
G2 at half resolution, times the ratio, clipped to 1: float32 H/2 x W/2 x 4. Target: the long
exposure developed by rawpy (camera WB, no auto-bright, 16 bit) / 65535, rounded to uint8 H x W x 3.
Levels: black (per channel) and white from the short file, overridden by options ``black_level`` /
``white_level`` (512 / 16383 = the official constants, also the fallback when the file has none);
the loaded item's meta records them (``black_level``, ``white_level``, ``levels_from``: file |
option | default). Id = the short file's stem, e.g. ``10003_00_0.04s``.

Options: ``list`` (default ``Sony_test_list.txt``), ``exclude_scenes`` (default the three above; ``[]``
keeps them), ``first_frame_only`` (default true), ``ratio_cap`` (default 300), ``black_level``,
``white_level``. rawpy is imported only when a raw file is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import numpy as np

from bench.data.images import check_pixels
from bench.data.sources import DataNotFound, Entry, Problem, Source, SourceItem, register_source, to_colour

SONY_BLACK, SONY_WHITE = 512.0, 16383.0
DEFAULT_EXCLUDED = (10034, 10045, 10172)
PACK_OFFSETS = ((0, 0), (0, 1), (1, 1), (1, 0))  # official pack_raw: R, G1, B, G2 for Sony's RGGB mosaic
_NAME = re.compile(r"^(?P<scene>\d+)_(?P<frame>\d+)_(?P<exposure>\d+(?:\.\d*)?|\.\d+)s$")


class RawReadError(ValueError):
    """A raw file that rawpy/LibRaw cannot open or decode, or with an unexpected Bayer pattern."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path, self.detail = path, detail


class RawName(NamedTuple):
    scene: int
    frame: int
    exposure: float  # seconds


@dataclass(frozen=True)
class ListedPair:
    """One line of a SID list: short (input) and long (ground truth) paths as written, ISO, f-number."""

    short: str
    long: str
    iso: int | None = None
    fnumber: float | None = None


def parse_name(name: str) -> RawName:
    """Scene, burst frame and exposure from a SID file name (``10003_00_0.04s.ARW`` or a path to it)."""
    match = _NAME.match(PurePosixPath(name).stem)
    if match is None:
        raise ValueError(f"not a SID file name (<scene>_<frame>_<seconds>s.ARW): {name!r}")
    if float(match["exposure"]) <= 0:
        raise ValueError(f"zero exposure time in {name!r}")
    return RawName(int(match["scene"]), int(match["frame"]), float(match["exposure"]))


def exposure_ratio(short_name: str, long_name: str, cap: float = 300.0) -> float:
    """min(exposure_gt / exposure_in, cap), exposures parsed from the two file names."""
    return min(parse_name(long_name).exposure / parse_name(short_name).exposure, cap)


def parse_test_list(text: str) -> list[ListedPair]:
    """The pairs of a ``Sony_*_list.txt`` (blank lines and ``#`` comments skipped)."""
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) < 2:
            raise ValueError(f"line {number}: expected '<short> <long> [ISO<n>] [F<n>]', got {line.strip()!r}")
        iso = next((int(t[3:]) for t in tokens[2:] if re.fullmatch(r"ISO\d+", t)), None)
        fnumber = next((float(t[1:]) for t in tokens[2:] if re.fullmatch(r"F\d+(\.\d+)?", t)), None)
        pairs.append(ListedPair(tokens[0], tokens[1], iso, fnumber))
    return pairs


def select_pairs(
    pairs: Iterable[ListedPair], exclude_scenes: Iterable[int | str] = DEFAULT_EXCLUDED, first_frame_only: bool = True
) -> list[ListedPair]:
    """The evaluated pairs: first burst frame (``_00_``) only, excluded scenes dropped, list order kept."""
    excluded = {int(scene) for scene in exclude_scenes}
    named = [(pair, parse_name(pair.short)) for pair in pairs]
    return [pair for pair, name in named if name.scene not in excluded and (name.frame == 0 or not first_frame_only)]


def pack_bayer(raw: np.ndarray, black: float | Sequence[float], white: float) -> np.ndarray:
    """H x W mosaic -> float32 H/2 x W/2 x 4 (R, G1, B, G2), ``max(x - black, 0) / (white - black)``.

    ``black`` is one level or four (in pack order); odd trailing rows/columns are dropped.
    """
    height, width = raw.shape[0] // 2 * 2, raw.shape[1] // 2 * 2
    image = raw[:height, :width].astype(np.float32)
    packed = np.stack([image[r::2, c::2] for r, c in PACK_OFFSETS], axis=-1)
    levels = np.asarray(black, dtype=np.float32)
    return (np.maximum(packed - levels, 0) / (np.float32(white) - levels)).astype(np.float32)


def scale_exposure(packed: np.ndarray, ratio: float) -> np.ndarray:
    """The amplified input: ``min(packed * ratio, 1)``, float32."""
    return np.minimum(packed * np.float32(ratio), np.float32(1.0)).astype(np.float32)


def gt_to_uint8(rgb16: np.ndarray) -> np.ndarray:
    """A 16-bit developed image -> uint8 for scoring: rint(x / 65535 * 255)."""
    return np.rint(rgb16.astype(np.float64) / 65535.0 * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class RawMosaic:
    """A raw file's visible mosaic, its levels (black in pack order) and its orientation flag."""

    mosaic: np.ndarray
    black: tuple[float, ...]
    white: float
    flip: int


def _libraw_message(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    return f"{type(exc).__name__}: {detail.decode(errors='replace') if isinstance(detail, bytes) else detail}"


def read_mosaic(path: Path) -> RawMosaic:
    """The visible Bayer mosaic of a raw file (fully decoded), checked to be R G / G B like Sony's."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            check_pixels(raw.sizes.raw_width, raw.sizes.raw_height, path)
            mosaic = np.array(raw.raw_image_visible, copy=True)
            pattern, desc = raw.raw_pattern, raw.color_desc.decode("ascii", "replace")
            if pattern is None or pattern.shape != (2, 2):
                raise RawReadError(path, "not a 2x2 Bayer raw file")
            colours = "".join(desc[int(pattern[r, c])] for r, c in PACK_OFFSETS)
            if colours != "RGBG":
                raise RawReadError(path, f"Bayer cell reads {colours} in pack order, expected RGBG (RGGB mosaic)")
            levels = raw.black_level_per_channel
            black = tuple(float(levels[int(pattern[r, c])]) for r, c in PACK_OFFSETS)
            return RawMosaic(mosaic, black, float(raw.white_level), int(raw.sizes.flip))
    except rawpy.LibRawError as exc:
        raise RawReadError(path, f"cannot read raw file: {_libraw_message(exc)}") from exc


def develop(path: Path) -> np.ndarray:
    """rawpy's 16-bit development of a raw file, as in the official test script."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            check_pixels(raw.sizes.raw_width, raw.sizes.raw_height, path)
            return raw.postprocess(use_camera_wb=True, half_size=False, no_auto_bright=True, output_bps=16)
    except rawpy.LibRawError as exc:
        raise RawReadError(path, f"cannot develop raw file: {_libraw_message(exc)}") from exc


@register_source("sid-sony", paired=True)
class SIDSony(Source):
    def _sony_dir(self) -> Path:
        nested = self.folder / "Sony"
        return nested if nested.is_dir() else self.folder

    def _list_path(self) -> Path:
        name = str(self.options.get("list", "Sony_test_list.txt"))
        candidates = [self.folder / name, self._sony_dir() / name, self.folder.parent / name]
        return next((p for p in candidates if p.is_file()), candidates[0])

    def layout(self) -> str:
        name = self.options.get("list", "Sony_test_list.txt")
        return (
            f"{self.folder}/{name} with {self.folder}/Sony/short/*.ARW and {self.folder}/Sony/long/*.ARW "
            f"(or {self.folder} = the Sony directory: short/, long/, the list here or in its parent); "
            "list lines './Sony/short/<scene>_<frame>_<s>s.ARW ./Sony/long/<scene>_00_<s>s.ARW ISO<n> F<n>'"
        )

    def resolve(self, listed: str) -> Path:
        """A listed path on disk: ``./Sony/short/x.ARW`` -> ``<Sony directory>/short/x.ARW``."""
        parts = PurePosixPath(listed).parts
        return self._sony_dir().joinpath(*(parts[1:] if parts and parts[0] == "Sony" else parts))

    def index(self) -> list[Entry]:
        list_path, sony = self._list_path(), self._sony_dir()
        if not list_path.is_file():
            raise DataNotFound(f"list file not found: {list_path} (expected layout: {self.layout()})")
        if not (sony / "short").is_dir() and not (sony / "long").is_dir():
            raise DataNotFound(f"no short/ or long/ folder in {sony} (expected layout: {self.layout()})")
        cap = float(self.options.get("ratio_cap", 300.0))
        excluded = self.options.get("exclude_scenes", DEFAULT_EXCLUDED) or ()
        entries = []
        try:
            pairs = parse_test_list(list_path.read_text())
            for pair in select_pairs(pairs, excluded, bool(self.options.get("first_frame_only", True))):
                short, long = parse_name(pair.short), parse_name(pair.long)
                meta: dict[str, Any] = {
                    "scene": short.scene,
                    "exposure_in": short.exposure,
                    "exposure_gt": long.exposure,
                    "ratio": exposure_ratio(pair.short, pair.long, cap),
                    "iso": pair.iso,
                    "fnumber": pair.fnumber,
                }
                short_path, long_path = self.resolve(pair.short), self.resolve(pair.long)
                entries.append(Entry(short_path.stem, long_path, short_path, meta))
        except ValueError as exc:
            raise DataNotFound(f"cannot parse {list_path}: {exc}") from exc
        return self.found(entries, f"no pairs selected from {list_path}")

    def levels(self, raw: RawMosaic) -> tuple[tuple[float, ...], float, str]:
        """(black per packed channel, white, origin): options override the file; 512/16383 if it has none."""
        black, white, origin = raw.black, raw.white, "file"
        if len(black) != 4 or white <= max(black):
            black, white, origin = (SONY_BLACK,) * 4, SONY_WHITE, "default"
        if "black_level" in self.options:
            black, origin = (float(self.options["black_level"]),) * 4, "option"
        if "white_level" in self.options:
            white, origin = float(self.options["white_level"]), "option"
        return black, white, origin

    def load(self, entry: Entry) -> SourceItem:
        assert entry.input is not None
        raw = read_mosaic(entry.input)
        black, white, origin = self.levels(raw)
        model_input = scale_exposure(pack_bayer(raw.mosaic, black, white), entry.meta["ratio"])
        target = to_colour(gt_to_uint8(develop(entry.target)), self.colour)
        meta = {**entry.meta, "black_level": list(black), "white_level": white, "levels_from": origin}
        return SourceItem(entry.id, target, model_input, meta)

    def expected_input_size(self, entry: Entry, target_size: tuple[int, int]) -> tuple[int, int] | None:
        return target_size[0] // 2, target_size[1] // 2

    def check_entry(self, entry: Entry) -> list[Problem]:
        """Both raw files present and decodable (RGGB), packed input = half the developed target's size."""
        problems: list[Problem] = []
        sizes: dict[str, tuple[int, int]] = {}
        for role, path in (("target", entry.target), ("input", entry.input)):
            assert path is not None
            if not path.is_file():
                problems.append(Problem(path, f"missing {role} raw file"))
                continue
            try:
                raw = read_mosaic(path)
            except RawReadError as exc:
                problems.append(Problem(path, f"unreadable {role}: {exc.detail}"))
                continue
            height, width = raw.mosaic.shape[:2]
            if role == "input":
                sizes[role] = (width // 2, height // 2)
            else:
                sizes[role] = (height, width) if raw.flip in (5, 6) else (width, height)
        if len(sizes) == 2 and entry.input is not None:
            (width, height), (target_w, target_h) = sizes["input"], sizes["target"]
            expected = self.expected_input_size(entry, sizes["target"])
            if expected is not None and (width, height) != expected:
                message = f"size mismatch: packed input is {width}x{height}, expected {expected[0]}x{expected[1]}"
                problems.append(Problem(entry.input, f"{message} for {entry.target.name} ({target_w}x{target_h})"))
        return problems
