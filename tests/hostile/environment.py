"""Hostile data roots, broken stores and command lines."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from tests.hostile.base import (
    IDENTITY,
    Attempt,
    case,
    score,
)

# -- data, store and command line ------------------------------------------------------------------------


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares ``width`` x ``height`` (8-bit RGB) and whose data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip


@case("data root with a 13,000 x 13,000 PNG")
def _(root: Path) -> Attempt:
    png_header_only(root / "data" / "scenes" / "huge.png", 13_000, 13_000)
    return Attempt(score(IDENTITY, "--data-root", str(root / "data"), "--memory-limit", "4G"),
                   "is 13000 x 13000 = 169,000,000 pixels by its header, over the limit of 67,108,864")  # fmt: skip


@case("data root with a corrupt PNG")
def _(root: Path) -> Attempt:
    (root / "data" / "scenes").mkdir(parents=True)
    (root / "data" / "scenes" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))
    return Attempt(score(IDENTITY, "--data-root", str(root / "data")), "cannot read image")


@case("store file is not a database")
def _(root: Path) -> Attempt:
    (root / "garbage.db").write_bytes(os.urandom(8192))
    return Attempt(score(IDENTITY, "--db", str(root / "garbage.db")), "cannot be used", db=str(root / "garbage.db"))


@case("store is read-only")
def _(root: Path) -> Attempt:
    return Attempt(score(IDENTITY), "readonly", db="READONLY")


@case("store disk is full")
def _(root: Path) -> Attempt:
    return Attempt(score(IDENTITY), "often a full disk; nothing stored before is lost, and the unfinished run",
                   full_disk=True, keeps_unfinished=True)  # fmt: skip


@case("PostgreSQL refuses the connection")
def _(root: Path) -> Attempt:
    url = "postgresql+psycopg://bench@127.0.0.1:9/bench?connect_timeout=3"
    return Attempt(score(IDENTITY, "--db", url), "cannot be used", db=url)


@case("--json into a path under a file")
def _(root: Path) -> Attempt:
    (root / "file.txt").write_text("")
    return Attempt(score(IDENTITY, "--json", str(root / "file.txt" / "r.json")), "cannot write")


@case("challenge track without its baseline")
def _(root: Path) -> Attempt:
    return Attempt(["challenge", "ntire2024-esr", str(IDENTITY), "--quick"], "give --baseline")


@case("unknown task")
def _(root: Path) -> Attempt:
    return Attempt(["score", str(IDENTITY), "--task", "../../etc/passwd", "--quick"], "unknown task")
