"""Uploaded zip archives (the board's Submit page): unpacked only when every entry is a plain relative file
within the limits; each hostile archive is refused before anything is written."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from bench.errors import ServiceError
from bench.service import archive
from bench.service.archive import unpack

MANIFEST = b"name: x\nteam: t\ntasks: [denoise-demo-s25]\nformat: safetensors\narchitecture: {name: identity}\n"


def _zip(entries: dict[str, bytes], links: tuple[str, ...] = (), compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive_file:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive_file.writestr(info, data)
    return buffer.getvalue()


def test_a_submission_at_the_top_or_in_one_folder_is_unpacked(tmp_path: Path) -> None:
    top = unpack(_zip({"submission.yaml": MANIFEST}), tmp_path / "a")
    assert (top / "submission.yaml").read_bytes() == MANIFEST and top == tmp_path / "a"
    inside = unpack(_zip({"mine/submission.yaml": MANIFEST, "mine/w/x.bin": b"1"}), tmp_path / "b")
    assert inside == tmp_path / "b" / "mine" and (inside / "w" / "x.bin").read_bytes() == b"1"


@pytest.mark.parametrize(
    ("entries", "links", "expected"),
    [
        ({"/etc/cron.d/x": b"", "submission.yaml": MANIFEST}, (), "is not a plain relative path"),
        ({"../../x": b"", "submission.yaml": MANIFEST}, (), "is not a plain relative path"),
        ({"a\\..\\..\\x": b"", "submission.yaml": MANIFEST}, (), "is not a plain relative path"),
        ({"w.safetensors": b"/etc/passwd", "submission.yaml": MANIFEST}, ("w.safetensors",), "is a link"),
        ({"readme.txt": b"no manifest"}, (), "has no submission.yaml"),
    ],
)
def test_hostile_archives_are_refused_before_anything_is_written(
    tmp_path: Path, entries: dict[str, bytes], links: tuple[str, ...], expected: str
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(ServiceError, match=expected):
        unpack(_zip(entries, links), target)
    assert not (tmp_path.parent / "x").exists() and not Path("/etc/cron.d/x").exists()
    if "no submission.yaml" not in expected:
        assert list(target.iterdir()) == []  # refused before any entry was written


def test_bombs_and_floods_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ServiceError, match="not a readable zip archive"):
        unpack(b"PK\x03\x04 not really", tmp_path / "a")
    monkeypatch.setattr(archive, "MAX_ENTRIES", 10)
    with pytest.raises(ServiceError, match="11 entries, over the limit of 10"):
        unpack(_zip({f"f{i}": b"" for i in range(11)}), tmp_path / "b")
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 2**20)
    (tmp_path / "c").mkdir()
    bomb = _zip({"submission.yaml": MANIFEST, "w.bin": b"\0" * (8 * 2**20)}, compression=zipfile.ZIP_DEFLATED)
    assert len(bomb) < 64 * 1024  # 8 MiB of zeros in a few KiB
    with pytest.raises(ServiceError, match="unpacks past the limit"):
        unpack(bomb, tmp_path / "c")
    assert (tmp_path / "c" / "w.bin").stat().st_size <= 2**20 + 2**20  # stopped within one block of the limit
