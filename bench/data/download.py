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
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.data import archives
from bench.data.archives import extract_archive
from bench.errors import DownloadError
from bench.registry import UnknownName

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
DOWNLOADS_DIR = ".downloads"
USER_AGENT = "bench-data-download/0.1 (python urllib)"
Progress = Callable[[int, int | None], None]
"""``progress(done_bytes, total_bytes_or_None)``."""
FetchProgress = Callable[[str, int, int | None], None]
"""``progress(label, done, total)``: label = file name while downloading (bytes), ``extract <file>`` (members)."""


class CatalogError(DownloadError):
    """The catalog file is unreadable or does not match the schema."""


class NetworkError(DownloadError):
    """The file could not be fetched (after the retries, or at once for a permanent HTTP error)."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes are not the expected ones; they were kept as ``bad_path``."""

    def __init__(self, message: str, *, expected: str, actual: str, bad_path: Path) -> None:
        super().__init__(message)
        self.expected, self.actual, self.bad_path = expected, actual, bad_path


UnsafeArchive = archives.UnsafeArchive  # raised by extract_archive; not a DownloadError subclass


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
    verified: bool  # a sha256 was given and matched (False: there was nothing to check against)
    fetched_bytes: int = 0  # received from the network by this call (0: the file was already there)
    resumed: bool = False  # kept the bytes of a .part file (continued with a Range request, or already complete)
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


def _set_aside(path: Path, like: Path | None = None) -> Path:
    """Rename ``path`` to ``<like>.bad`` (``.bad.1``, ... if taken; ``like`` defaults to ``path``): no overwrite."""
    like = like or path
    bad, i = like.with_name(like.name + ".bad"), 0
    while bad.exists():
        i += 1
        bad = like.with_name(f"{like.name}.bad.{i}")
    os.replace(path, bad)
    return bad


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range: bytes A-B/N`` (or ``bytes */N``) header."""
    match = re.fullmatch(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)", (header or "").strip())
    if not match:
        return None, None
    return (int(match[1]) if match[1] else None), (int(match[2]) if match[2] != "*" else None)


@dataclass
class _Transfer:
    """State of one file's download across attempts: the ``.part`` file and the hash of its bytes."""

    url: str
    part: Path
    chunk: int
    timeout: float
    progress: Progress | None
    size: int | None
    hasher: Any = None
    hashed: int = 0
    fetched: int = 0
    resumed: bool = False
    restarted: bool = False

    def attempt(self) -> None:
        """One HTTP request continuing ``part``; returns when it is complete, raises :class:`_Retry` if not."""
        offset = self.part.stat().st_size if self.part.exists() else 0
        if self.size is not None and offset > self.size:
            offset = self._discard()
        if self.hasher is None or self.hashed != offset:  # resume: hash the bytes already there first
            self.hasher, self.hashed = _hash_file(self.part, self.chunk) if offset else (hashlib.sha256(), 0)
        if self.size is not None and offset == self.size:
            self.resumed = True
            return
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            resp = urllib.request.urlopen(urllib.request.Request(self.url, headers=headers), timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                if _content_range(exc.headers.get("Content-Range"))[1] == offset:
                    self.resumed = True  # the .part file was already complete
                    return
                self._discard()
                raise _Retry("the server refused to resume (HTTP 416); starting again from byte 0") from exc
            if exc.code in (408, 425, 429) or exc.code >= 500:
                raise _Retry(f"HTTP {exc.code} {exc.reason}") from exc
            raise NetworkError(
                f"could not download {self.url}: the server answered HTTP {exc.code} {exc.reason}. The address may "
                "have moved: check the data set's page (see its catalog entry) and download the file by hand."
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(f"connection failed: {exc}") from exc
        with resp:
            self._receive(resp, offset)

    def _discard(self) -> int:
        self.part.unlink(missing_ok=True)
        self.hasher, self.hashed, self.resumed = hashlib.sha256(), 0, False
        return 0

    def _receive(self, resp: Any, offset: int) -> None:
        length = resp.headers.get("Content-Length")
        total = int(length) if length is not None and length.isdigit() else None
        if resp.status == 206:
            start, size = _content_range(resp.headers.get("Content-Range"))
            if start != offset:
                self._discard()
                raise _Retry(f"the server resumed at byte {start}, not {offset}; starting again from byte 0")
            self.resumed, total = True, size or (offset + total if total is not None else None)
        elif offset:  # a 200 answer to a Range request: the whole file comes again
            self.restarted, offset = True, self._discard()
        with open(self.part, "ab" if offset else "wb") as fh:
            while True:
                try:
                    data = resp.read(self.chunk)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Retry(f"connection lost after {self.hashed} bytes: {exc}") from exc
                if not data:
                    break
                fh.write(data)
                self.hasher.update(data)
                self.hashed += len(data)
                self.fetched += len(data)
                if self.progress:
                    self.progress(self.hashed, total)
            fh.flush()
            os.fsync(fh.fileno())
        if total is not None and self.hashed < total:
            raise _Retry(f"connection closed after {self.hashed} of {total} bytes")


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
    counts failed attempts in a row (one that extends ``.part`` resets the count), ``backoff * 2**n``
    seconds apart. On a mismatch the bytes are kept as ``dest.bad`` and :class:`ChecksumMismatch` is
    raised; ``dest`` itself only ever appears by an atomic rename of a complete file.
    """
    dest, expected = Path(dest), sha256.lower() if sha256 else None
    set_aside = None
    if dest.exists():
        hasher, length = _hash_file(dest, chunk)
        if expected is None or hasher.hexdigest() == expected:
            if progress:
                progress(length, length)
            return DownloadResult(dest, hasher.hexdigest(), length, expected is not None)
        set_aside = _set_aside(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    job = _Transfer(url, dest.with_name(dest.name + ".part"), chunk, timeout, progress, size)
    failures, best = 0, job.part.stat().st_size if job.part.exists() else 0
    while True:
        try:
            job.attempt()
            break
        except _Retry as exc:
            now = job.part.stat().st_size if job.part.exists() else 0
            failures, best = (0 if now > best else failures + 1), max(best, now)
            if failures > retries:
                raise NetworkError(
                    f"could not download {url}: {exc} ({failures} failed attempts in a row). The partial file "
                    f"{job.part} ({now} bytes) is kept: run the same command again to resume it, after checking "
                    "the network connection and proxy settings (HTTPS_PROXY)."
                ) from exc
            time.sleep(backoff * 2 ** max(failures - 1, 0))
    digest = job.hasher.hexdigest()
    if (expected is not None and digest != expected) or (size is not None and job.hashed != size):
        bad = _set_aside(job.part, dest)
        hint = "The transfer resumed a .part file, whose first bytes may have been corrupt. " if job.resumed else ""
        raise ChecksumMismatch(
            f"{url} does not match the catalog: got sha256 {digest} ({job.hashed} bytes), expected "
            f"{expected or 'any sha256'}{f' ({size} bytes)' if size is not None else ''}. The downloaded bytes "
            f"are kept as {bad} and nothing was extracted. {hint}Delete the .bad file and run again; if the "
            "mismatch repeats, the file on the server has changed: check it before updating the catalog.",
            expected=expected or "",
            actual=digest,
            bad_path=bad,
        )
    os.replace(job.part, dest)
    verified = expected is not None
    return DownloadResult(dest, digest, job.hashed, verified, job.fetched, job.resumed, job.restarted, set_aside)


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
        result = download_file(
            file.url,
            data_root / DOWNLOADS_DIR / file.filename,
            file.sha256,
            progress=partial(progress, file.filename) if progress else None,
            size=file.size_bytes,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
        if not result.verified:
            notify(
                f"NOT VERIFIED: {file.filename} has no sha256 in the catalog, so its content was not checked. "
                f"Computed sha256: {result.sha256} ({result.size} bytes). Compare it with a trusted source, then "
                f"pin it as files[].sha256 of {entry.name!r} in the catalog."
            )
        results.append(result)
    for result in results:
        extract_archive(result.path, target, entry.archive, progress)
    record = {
        "name": entry.name,
        "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": [{"filename": r.path.name, "sha256": r.sha256, "verified": r.verified} for r in results],
    }
    marker.write_text(json.dumps(record, indent=2) + "\n")
    if not keep_archives:
        for result in results:
            result.path.unlink()
    return target
