"""Safe unpacking of data-set archives: every member is checked before anything is written.

A member is refused when its path is absolute, contains ``..``, or is a link (symbolic or hard)
pointing outside the extraction folder (zip-slip / tar-slip); tar members are also extracted
with Python's ``filter="data"``. Devices and pipes are refused.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

FetchProgress = Callable[[str, int, int | None], None]


class UnsafeArchive(Exception):
    """An archive member would land outside the extraction folder."""


def _check_member(archive: Path, target: Path, name: str, link: str | None = None, hard: bool = False) -> None:
    """:class:`UnsafeArchive` unless member ``name`` (a link to ``link``, if given) stays inside ``target``."""
    escapes = name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in re.split(r"[\\/]", name)
    escapes = escapes or not (target / name).resolve().is_relative_to(target.resolve())
    if link is not None:
        resolved = os.path.normpath(PurePosixPath(link) if hard else PurePosixPath(name).parent / link)
        escapes = escapes or link.startswith("/") or ".." in PurePosixPath(resolved).parts
    if escapes:
        what = f"a link to {link!r}" if link is not None else "a path"
        raise UnsafeArchive(
            f"refusing to extract {archive}: its member {name!r} is {what} outside {target} (absolute or with "
            "'..'). Nothing was extracted from it; the archive is not what the catalog describes, so delete it."
        )


def extract_archive(archive: Path, target: Path, kind: str, progress: FetchProgress | None = None) -> None:
    """Unpack ``archive`` (zip, tar, tar.gz; ``none``: copy) into ``target``; every member is checked first."""
    target.mkdir(parents=True, exist_ok=True)
    label = f"extract {archive.name}"
    if kind == "none":
        shutil.copy2(archive, target / archive.name)
    elif kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for info in members:
                link = zf.read(info).decode(errors="replace") if stat.S_ISLNK(info.external_attr >> 16) else None
                _check_member(archive, target, info.filename, link)  # (zipfile writes inner links as plain files)
            for i, info in enumerate(members, 1):
                zf.extract(info, target)
                if progress:
                    progress(label, i, len(members))
    else:
        with tarfile.open(archive, "r:*") as tf:
            tar_members = tf.getmembers()
            for member in tar_members:
                if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                    raise UnsafeArchive(f"refusing to extract {archive}: {member.name!r} is a device or a pipe.")
                link = member.linkname if member.issym() or member.islnk() else None
                _check_member(archive, target, member.name, link, member.islnk())
            for i, member in enumerate(tar_members, 1):
                try:
                    tf.extract(member, target, filter="data")
                except tarfile.FilterError as exc:
                    raise UnsafeArchive(f"refusing to extract {archive}: {exc}") from exc
                if progress:
                    progress(label, i, len(tar_members))
