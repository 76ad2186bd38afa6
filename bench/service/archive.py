"""A submission uploaded as a zip archive, unpacked safely (the board's Submit page).

Refused, before anything is written: an archive that is not a zip; more than ``MAX_ENTRIES`` entries; an
entry with an absolute path, a ``..`` part, a backslash or a NUL; a symbolic link (its Unix mode in the
entry) or any other non-regular file; an entry over the per-file limit
(:data:`bench.submission.MAX_FILE_BYTES`) or a total over ``MAX_TOTAL_BYTES``, counted on the bytes
actually inflated (a zip's own size fields can lie). The folder holding ``submission.yaml`` (the top or
a single folder inside) is the submission.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from bench.errors import ServiceError
from bench.submission import MANIFEST, MAX_FILE_BYTES

MAX_ENTRIES = 1000
MAX_TOTAL_BYTES = 2 * 1024**3


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename
    path = PurePosixPath(name)
    if "\\" in name or "\x00" in name or path.is_absolute() or ".." in path.parts or len(name) > 400:
        raise ServiceError(f"the archive's entry {name[:120]!r} is not a plain relative path")
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 where the archiver recorded permissions only
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise ServiceError(f"the archive's entry {name!r} is a link or a special file; only plain files are accepted")
    return path


def unpack(data: bytes, destination: Path) -> Path:
    """Unpack the zip ``data`` into the empty folder ``destination``; the submission folder inside it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ServiceError(f"the upload is not a readable zip archive ({exc})") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ServiceError(f"the archive holds {len(entries)} entries, over the limit of {MAX_ENTRIES}")
        paths = [_member_path(info) for info in entries]  # every entry checked before any is written
        total = 0
        for info, path in zip(entries, paths, strict=True):
            if info.is_dir():
                continue
            target = destination.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as sink:
                written = 0
                while block := source.read(1 << 20):
                    written += len(block)
                    total += len(block)
                    if written > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                        raise ServiceError(
                            f"the archive's entry {info.filename!r} unpacks past the limit of {MAX_FILE_BYTES} bytes "
                            f"per file and {MAX_TOTAL_BYTES} in all"
                        )
                    sink.write(block)
    if (destination / MANIFEST).is_file():
        return destination
    inside = [p for p in destination.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
    if len(inside) != 1:
        raise ServiceError(f"the archive has no {MANIFEST} at its top or in one folder at its top")
    return inside[0]
