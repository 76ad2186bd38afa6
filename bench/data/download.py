"""Public data-set archives: the catalog (``catalog.yaml``), resumable verified downloads, safe extraction.

:func:`fetch_dataset` (``bench data download NAME``) downloads every file of a catalog entry into
``<data-root>/.downloads/``, resuming a ``.part`` file with an HTTP ``Range`` request, checks its
sha256, unpacks it into ``<data-root>/<extract_to>/`` (members that would land outside are rejected
before anything is written) and leaves a marker file there so a second call does nothing. The
network is reached only through :mod:`urllib`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.registry import UnknownName

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
DOWNLOADS_DIR = ".downloads"
USER_AGENT = "bench-data-download/0.1 (python urllib)"
Progress = Callable[[int, int | None], None]
"""``progress(done_bytes, total_bytes_or_None)``."""
FetchProgress = Callable[[str, int, int | None], None]
"""``progress(label, done, total)``: label = file name while downloading (bytes), ``extract <file>`` (members)."""


class DownloadError(Exception):
    """Base of this module's errors; the message is one paragraph written for the user."""


class CatalogError(DownloadError):
    """The catalog file is unreadable or does not match the schema."""


class NetworkError(DownloadError):
    """The file could not be fetched (after the retries, or at once for a permanent HTTP error)."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes are not the expected ones; they were kept as ``bad_path``."""

    def __init__(self, message: str, *, expected: str, actual: str, bad_path: Path) -> None:
        super().__init__(message)
        self.expected, self.actual, self.bad_path = expected, actual, bad_path


class UnsafeArchive(DownloadError):
    """An archive member would be written outside the target folder (or is a device / link)."""


class UnknownDataset(DownloadError, UnknownName):
    """A name that is not in the catalog; the message lists the known names."""


class ManualDownloadRequired(DownloadError):
    """The data set needs a browser to download; ``page`` and ``instructions`` say how."""

    def __init__(self, entry: CatalogEntry, folder: Path) -> None:
        self.entry, self.page, self.instructions, self.folder = entry, entry.page, entry.instructions, folder
        super().__init__(
            f"{entry.name} cannot be downloaded automatically: it is hosted on {entry.page}, which needs a browser. "
            f"{entry.instructions} Expected location: {folder}."
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogFile(_Strict):
    url: str = Field(pattern=r"^https?://\S+$")
    filename: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]*$", description="plain file name, no folders")
    sha256: str | None = Field(pattern=r"^[0-9a-f]{64}$", description="lower-case hex; null = not recorded")
    size_bytes: int | None = Field(None, ge=0)


class CatalogEntry(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    files: list[CatalogFile] = Field(default_factory=list)
    archive: Literal["zip", "tar", "tar.gz", "none"] = "zip"
    extract_to: str = Field(description="folder under the data root that the files unpack into")
    licence: str
    tasks: list[str] = Field(default_factory=list)
    manual: bool = False
    page: str | None = Field(None, pattern=r"^https?://\S+$")
    instructions: str | None = None

    @field_validator("extract_to")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if "\\" in value or not parts or PurePosixPath(value).is_absolute() or ".." in parts or "." in parts:
            raise ValueError(f"extract_to must be a relative folder without '..', got {value!r}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> CatalogEntry:
        if self.manual and not (self.page and self.instructions):
            raise ValueError("a manual entry needs 'page' and 'instructions'")
        if not self.manual and not self.files:
            raise ValueError("an entry that is not manual needs at least one file")
        names = [f.filename for f in self.files]
        if len(set(names)) != len(names):
            raise ValueError(f"file names repeat: {names}")
        return self


class _Catalog(_Strict):
    datasets: list[CatalogEntry]


def load_catalog(path: str | Path | None = None) -> dict[str, CatalogEntry]:
    """Entries of a catalog YAML (default: the packaged ``catalog.yaml``) by name; :class:`CatalogError` if invalid."""
    path = Path(path) if path is not None else CATALOG_PATH
    try:
        catalog = _Catalog.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise CatalogError(f"invalid data-set catalog {path}: {exc}") from exc
    entries: dict[str, CatalogEntry] = {}
    for entry in catalog.datasets:
        if entries.setdefault(entry.name, entry) is not entry:
            raise CatalogError(f"invalid data-set catalog {path}: the name {entry.name!r} is used twice")
    return entries


def get_entry(name: str, catalog: dict[str, CatalogEntry] | None = None) -> CatalogEntry:
    """The entry ``name`` or :class:`UnknownDataset` naming every known one."""
    catalog = load_catalog() if catalog is None else catalog
    if name not in catalog:
        raise UnknownDataset(f"unknown data set {name!r}; known data sets: {', '.join(sorted(catalog))}")
    return catalog[name]


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str  # computed from the bytes on disk
    size: int
    verified: bool  # a sha256 was given and matched (False: nothing to check against)
    fetched_bytes: int  # received from the network by this call (0: the file was already there)
    resumed: bool = False  # continued a .part file with a Range request
    restarted: bool = False  # the server ignored Range (200): the transfer started again from byte 0
    set_aside: Path | None = None  # an existing dest with another sha256, renamed to *.bad


class _Retry(Exception):
    """A transient failure: try again (resuming)."""


def _hash_file(path: Path, chunk: int = 1 << 20) -> tuple[Any, int]:
    hasher, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while data := fh.read(chunk):
            hasher.update(data)
            size += len(data)
    return hasher, size


def _set_aside(path: Path) -> Path:
    """Rename ``path`` to ``path.bad`` (``.bad.1``, ... if taken): never overwrite anything."""
    bad, i = path.with_name(path.name + ".bad"), 0
    while bad.exists():
        i += 1
        bad = path.with_name(f"{path.name}.bad.{i}")
    os.replace(path, bad)
    return bad


def download_file(
    url: str,
    dest: Path,
    sha256: str | None,
    *,
    chunk: int = 1 << 20,
    timeout: float = 30,
    retries: int = 3,
    progress: Progress | None = None,
    size: int | None = None,
    backoff: float = 1.0,
) -> DownloadResult:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming it, and verify ``sha256`` (and ``size``).

    An existing ``dest`` with the right sha256 (any content when ``sha256`` is None) is returned
    without touching the network; one with another sha256 is renamed to ``*.bad`` first. ``retries``
    counts failed attempts in a row (an attempt that extends the ``.part`` file resets it), with
    ``backoff * 2**n`` seconds between them. On a checksum or size mismatch the bytes are kept as
    ``dest.bad`` and :class:`ChecksumMismatch` is raised; ``dest`` is only ever created by an atomic rename.
    """
    dest, expected = Path(dest), sha256.lower() if sha256 else None
    set_aside = None
    if dest.exists():
        hasher, length = _hash_file(dest, chunk)
        if expected is None or hasher.hexdigest() == expected:
            if progress:
                progress(length, length)
            return DownloadResult(dest, hasher.hexdigest(), length, expected is not None, 0)
        set_aside = _set_aside(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    state: dict[str, Any] = {"hasher": None, "hashed": 0, "fetched": 0, "resumed": False, "restarted": False}
    failures, best, last = 0, -1, ""
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            _attempt(url, part, state, chunk=chunk, timeout=timeout, progress=progress, size=size)
            break
        except _Retry as exc:
            now = part.stat().st_size if part.exists() else 0
            failures, best, last = (0 if now > max(best, before) else failures + 1), max(best, now), str(exc)
            if failures > retries:
                raise NetworkError(
                    f"could not download {url}: {last} ({failures} failed attempts in a row). The partial file "
                    f"{part} ({now} bytes) is kept: run the same command again to resume, or check the network "
                    "connection and proxy settings (HTTPS_PROXY)."
                ) from exc
            time.sleep(backoff * 2 ** max(failures - 1, 0))
    digest, length = state["hasher"].hexdigest(), state["hashed"]
    if (expected is not None and digest != expected) or (size is not None and length != size):
        bad = _set_aside(part)
        raise ChecksumMismatch(
            f"{url} does not match the catalog: sha256 {digest} ({length} bytes), expected {expected or 'any'}"
            f"{f' ({size} bytes)' if size is not None else ''}. The downloaded bytes were kept as {bad} and "
            f"nothing was extracted. {'The transfer resumed an earlier .part file, which may have been corrupt; ' if state['resumed'] else ''}"
            "delete the .bad file and run again; if the mismatch repeats, the file on the server has changed and "
            "the catalog entry must be checked before its sha256 is updated.",
            expected=expected or "",
            actual=digest,
            bad_path=bad,
        )
    os.replace(part, dest)
    return DownloadResult(
        dest, digest, length, expected is not None, state["fetched"], state["resumed"], state["restarted"], set_aside
    )


def _attempt(url: str, part: Path, state: dict[str, Any], *, chunk: int, timeout: float, progress: Progress | None,
             size: int | None) -> None:
    """One HTTP request continuing ``part``; returns when it is complete, raises :class:`_Retry` if not."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if state["hasher"] is None or state["hashed"] != offset:  # hash what is already there (resume)
        state["hasher"], state["hashed"] = _hash_file(part, chunk) if offset else (hashlib.sha256(), 0)
    if size is not None and offset == size:
        return
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            if _range_total(exc.headers.get("Content-Range")) == offset:
                return  # the .part file is already complete
            part.unlink()
            raise _Retry("the server refused to resume (416); starting again from byte 0") from exc
        if exc.code in (408, 425, 429) or exc.code >= 500:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from exc
        raise NetworkError(
            f"could not download {url}: the server answered HTTP {exc.code} {exc.reason}. The address may have "
            "moved: check the data set's page (see the catalog entry) and download the file by hand if needed."
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"connection failed: {exc}") from exc
    with resp:
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None and length.isdigit() else None
        if resp.status == 206:
            start = _range_start(resp.headers.get("Content-Range"))
            if start != offset:
                part.unlink()
                raise _Retry(f"the server resumed at byte {start}, not {offset}; starting again from byte 0")
            state["resumed"] = True
            total = _range_total(resp.headers.get("Content-Range")) or total
        elif offset:  # 200 to a Range request: the server sends the whole file again
            state["hasher"], state["hashed"], state["restarted"], offset = hashlib.sha256(), 0, True, 0
            total = int(length) if length is not None and length.isdigit() else None
        with open(part, "ab" if offset else "wb") as fh:
            while True:
                try:
                    data = resp.read(chunk)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Retry(f"connection lost after {state['hashed']} bytes: {exc}") from exc
                if not data:
                    break
                fh.write(data)
                state["hasher"].update(data)
                state["hashed"] += len(data)
                state["fetched"] += len(data)
                if progress:
                    progress(state["hashed"], total)
            fh.flush()
            os.fsync(fh.fileno())
    if total is not None and state["hashed"] < total:
        raise _Retry(f"connection closed after {state['hashed']} of {total} bytes")


def _range_start(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (header or "").strip())
    return int(match[1]) if match else None


def _range_total(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes (?:\d+-\d+|\*)/(\d+)", (header or "").strip())
    return int(match[1]) if match else None


def _check_name(name: str, archive: Path, target: Path) -> None:
    parts = re.split(r"[\\/]", name)
    escapes = name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts
    if escapes or not (target / name).resolve().is_relative_to(target.resolve()):
        raise UnsafeArchive(
            f"refusing to extract {archive}: its member {name!r} would be written outside {target} (absolute path "
            "or '..'). Nothing was extracted; the archive is not what the catalog describes, so delete it."
        )


def _check_link(name: str, link: str, archive: Path, target: Path, hard: bool) -> None:
    resolved = PurePosixPath(link) if hard else PurePosixPath(name).parent / link
    if link.startswith("/") or ".." in PurePosixPath(os.path.normpath(resolved)).parts:
        raise UnsafeArchive(
            f"refusing to extract {archive}: its member {name!r} is a link to {link!r}, outside {target}. "
            "Nothing was extracted; the archive is not what the catalog describes, so delete it."
        )


def extract_archive(archive: Path, target: Path, kind: str, progress: FetchProgress | None = None) -> None:
    """Unpack ``archive`` (zip / tar / tar.gz; ``none`` copies the file) into ``target``, checking every member first."""
    target.mkdir(parents=True, exist_ok=True)
    label = f"extract {archive.name}"
    if kind == "none":
        shutil.copy2(archive, target / archive.name)
    elif kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for info in members:
                _check_name(info.filename, archive, target)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise UnsafeArchive(f"refusing to extract {archive}: {info.filename!r} is a link (refused in zip).")
            for i, info in enumerate(members, 1):
                zf.extract(info, target)
                if progress:
                    progress(label, i, len(members))
    else:
        with tarfile.open(archive, "r:*") as tf:
            tar_members = tf.getmembers()
            for member in tar_members:
                _check_name(member.name, archive, target)
                if member.issym() or member.islnk():
                    _check_link(member.name, member.linkname, archive, target, hard=member.islnk())
                elif not (member.isfile() or member.isdir()):
                    raise UnsafeArchive(f"refusing to extract {archive}: {member.name!r} is a device or pipe.")
            for i, member in enumerate(tar_members, 1):
                try:
                    tf.extract(member, target, filter="data")
                except tarfile.FilterError as exc:
                    raise UnsafeArchive(f"refusing to extract {archive}: {exc}") from exc
                if progress:
                    progress(label, i, len(tar_members))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def fetch_dataset(
    name: str,
    data_root: Path,
    catalog: dict[str, CatalogEntry] | None = None,
    progress: FetchProgress | None = None,
    *,
    keep_archives: bool = True,
    notify: Callable[[str], None] = _stderr,
    timeout: float = 30,
    retries: int = 3,
    backoff: float = 1.0,
) -> Path:
    """Download, verify and unpack the catalog entry ``name`` under ``data_root``; returns ``data_root/extract_to``.

    A no-op (no network) when the marker of an earlier complete fetch is there. ``notify`` receives
    the lines a user must read (a file without a recorded sha256 is reported with its computed one).
    """
    entry = get_entry(name, catalog)
    data_root = Path(data_root)
    target = data_root / entry.extract_to
    if entry.manual:
        raise ManualDownloadRequired(entry, target)
    marker = target / f".bench-download-{entry.name}.json"
    if marker.is_file():
        return target
    results = []
    for file in entry.files:
        def report(done: int, total: int | None, _label: str = file.filename) -> None:
            if progress:
                progress(_label, done, total)

        result = download_file(file.url, data_root / DOWNLOADS_DIR / file.filename, file.sha256, progress=report,
                               size=file.size_bytes, timeout=timeout, retries=retries, backoff=backoff)
        if not result.verified:
            notify(f"NOT VERIFIED: {file.filename} has no sha256 in the catalog, so its content was not checked. "
                   f"Computed sha256: {result.sha256} ({result.size} bytes). Compare it with a trusted source, then "
                   f"pin it as files[].sha256 of {entry.name!r} in the catalog.")
        results.append(result)
    for result in results:
        extract_archive(result.path, target, entry.archive, progress)
    record = {"name": entry.name, "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "files": [{"filename": r.path.name, "sha256": r.sha256, "verified": r.verified} for r in results]}
    marker.write_text(json.dumps(record, indent=2) + "\n")
    if not keep_archives:
        for result in results:
            result.path.unlink()
    return target
