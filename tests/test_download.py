"""Data-set downloads against a local HTTP server on 127.0.0.1 (never the real URLs)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from bench.data.download import (
    CatalogEntry,
    CatalogError,
    ChecksumMismatch,
    ManualDownloadRequired,
    NetworkError,
    UnknownDataset,
    UnsafeArchive,
    download_file,
    extract_archive,
    fetch_dataset,
    load_catalog,
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, bytes]
    ranges: bool = True  # honour "Range: bytes=N-" (206); False: ignore it and answer 200
    drop_after: int | None = None  # first request only: send this many body bytes, then close
    requests: list[tuple[str, str | None]]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        srv = cast(_Server, self.server)
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(match[1]) if match and srv.ranges else 0
        if start >= len(body) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if match and srv.ranges else 200)
        if match and srv.ranges:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if srv.drop_after is not None and len(srv.requests) == 1:
            payload = payload[: srv.drop_after]  # then the connection closes (HTTP/1.0)
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests = {}, []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes | str]) -> bytes:
    """bytes -> a file; str -> a symbolic link to that target."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


PNG = random.Random(0).randbytes(30_000)  # stands for an image: only the bytes matter here
HR_ZIP = _zip({"DIV2K_valid_HR/0801.png": PNG, "DIV2K_valid_HR/0802.png": PNG[::-1]})
LR_ZIP = _zip({"DIV2K_valid_LR_bicubic/X2/0801x2.png": PNG[:7000]})


def _catalog(tmp_path: Path, srv: _Server, files: Mapping[str, tuple[bytes, str | None]], **entry: Any) -> Any:
    """A one-entry catalog 'div2k-test' served by ``srv``: filename -> (content, sha256 in the catalog)."""
    for filename, (data, _) in files.items():
        srv.files[f"/{filename}"] = data
    spec: dict[str, Any] = {
        "name": "div2k-test",
        "description": "test",
        "archive": "zip",
        "extract_to": "DIV2K/",
        "licence": "-",
    }
    spec["files"] = [{"url": srv.url(n), "filename": n, "sha256": s} for n, (_, s) in files.items()]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"datasets": [{**spec, **entry}]}))
    return load_catalog(path)


def _fetch(catalog: dict[str, CatalogEntry], root: Path, **kw: Any) -> Path:
    return fetch_dataset("div2k-test", root, catalog, timeout=5, retries=2, backoff=0, **kw)


def test_fetch_downloads_verifies_and_extracts(server: _Server, tmp_path: Path) -> None:
    files = {"DIV2K_valid_HR.zip": (HR_ZIP, _sha(HR_ZIP)), "DIV2K_valid_LR_bicubic_X2.zip": (LR_ZIP, _sha(LR_ZIP))}
    catalog, root = _catalog(tmp_path, server, files), tmp_path / "data"
    seen: list[tuple[str, int, int | None]] = []
    notes: list[str] = []
    folder = _fetch(catalog, root, progress=lambda *event: seen.append(event), notify=notes.append)
    assert folder == root / "DIV2K"
    assert (folder / "DIV2K_valid_HR" / "0801.png").read_bytes() == PNG
    assert (folder / "DIV2K_valid_HR" / "0802.png").read_bytes() == PNG[::-1]
    assert (folder / "DIV2K_valid_LR_bicubic" / "X2" / "0801x2.png").read_bytes() == PNG[:7000]
    assert ("DIV2K_valid_HR.zip", len(HR_ZIP), len(HR_ZIP)) in seen
    assert ("extract DIV2K_valid_HR.zip", 2, 2) in seen
    assert notes == []  # every file verified
    marker = json.loads((folder / ".bench-download-div2k-test.json").read_text())
    assert [f["verified"] for f in marker["files"]] == [True, True]
    assert (root / ".downloads" / "DIV2K_valid_HR.zip").read_bytes() == HR_ZIP


def test_second_fetch_is_a_no_op(server: _Server, tmp_path: Path) -> None:
    catalog, root = _catalog(tmp_path, server, {"DIV2K_valid_HR.zip": (HR_ZIP, _sha(HR_ZIP))}), tmp_path / "data"
    first = _fetch(catalog, root)
    server.requests.clear()
    assert _fetch(catalog, root) == first
    assert server.requests == []
    (first / ".bench-download-div2k-test.json").unlink()  # marker gone: the archive on disk is reused
    assert _fetch(catalog, root) == first
    assert server.requests == []


@pytest.mark.parametrize("ranges", [True, False], ids=["range-206", "no-range-200"])
def test_interrupted_transfer_resumes_or_restarts(server: _Server, tmp_path: Path, ranges: bool) -> None:
    server.files["/blob.bin"], server.ranges, server.drop_after = PNG, ranges, 12_000
    dest = tmp_path / "blob.bin"
    result = download_file(server.url("blob.bin"), dest, _sha(PNG), chunk=4096, timeout=5, retries=2, backoff=0)
    assert dest.read_bytes() == PNG and result.verified and result.sha256 == _sha(PNG)
    assert [r for _, r in server.requests] == [None, "bytes=12000-"]
    assert (result.resumed, result.restarted) == (ranges, not ranges)
    assert result.fetched_bytes == (len(PNG) if ranges else 12_000 + len(PNG))
    assert not dest.with_name("blob.bin.part").exists()


def test_resume_of_a_part_left_by_an_earlier_run(server: _Server, tmp_path: Path) -> None:
    server.files["/blob.bin"] = PNG
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(PNG[:10_000])
    result = download_file(server.url("blob.bin"), dest, _sha(PNG), timeout=5, backoff=0)
    assert server.requests == [("/blob.bin", "bytes=10000-")]
    assert dest.read_bytes() == PNG and result.verified and result.fetched_bytes == len(PNG) - 10_000
    dest.rename(dest.with_name("blob.bin.part"))  # a complete .part: the server answers 416, nothing is fetched
    server.requests.clear()
    result = download_file(server.url("blob.bin"), dest, _sha(PNG), timeout=5, backoff=0)
    assert result.verified and result.fetched_bytes == 0 and dest.read_bytes() == PNG
    assert server.requests == [("/blob.bin", f"bytes={len(PNG)}-")]
    server.requests.clear()  # idempotent: a complete dest with the right sha256 needs no request
    assert download_file(server.url("blob.bin"), dest, _sha(PNG)).fetched_bytes == 0
    assert server.requests == []


def test_wrong_sha256_keeps_bad_file_and_extracts_nothing(server: _Server, tmp_path: Path) -> None:
    catalog, root = _catalog(tmp_path, server, {"DIV2K_valid_HR.zip": (HR_ZIP, "0" * 64)}), tmp_path / "data"
    with pytest.raises(ChecksumMismatch) as info:
        _fetch(catalog, root)
    bad = root / ".downloads" / "DIV2K_valid_HR.zip.bad"
    assert info.value.bad_path == bad and bad.read_bytes() == HR_ZIP
    assert info.value.actual == _sha(HR_ZIP) and "0" * 64 in str(info.value) and str(bad) in str(info.value)
    assert not (root / ".downloads" / "DIV2K_valid_HR.zip").exists()
    assert not (root / "DIV2K").exists()


def test_corrupt_part_from_earlier_run_is_reported(server: _Server, tmp_path: Path) -> None:
    server.files["/blob.bin"] = PNG
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(b"x" * 100)
    with pytest.raises(ChecksumMismatch, match=r"resumed a \.part file"):
        download_file(server.url("blob.bin"), dest, _sha(PNG), timeout=5, backoff=0)
    assert dest.with_name("blob.bin.bad").stat().st_size == len(PNG) and not dest.exists()


def test_missing_sha256_is_downloaded_but_reported_unverified(server: _Server, tmp_path: Path) -> None:
    catalog, root = _catalog(tmp_path, server, {"DIV2K_valid_HR.zip": (HR_ZIP, None)}), tmp_path / "data"
    notes: list[str] = []
    folder = _fetch(catalog, root, notify=notes.append, keep_archives=False)
    assert (folder / "DIV2K_valid_HR" / "0801.png").read_bytes() == PNG
    assert not (root / ".downloads" / "DIV2K_valid_HR.zip").exists()
    assert len(notes) == 1 and "NOT VERIFIED" in notes[0] and _sha(HR_ZIP) in notes[0]


def test_zip_slip_member_is_rejected(server: _Server, tmp_path: Path) -> None:
    evil = _zip({"DIV2K_valid_HR/0801.png": PNG, "../../escaped.txt": b"owned"})
    catalog, root = _catalog(tmp_path, server, {"evil.zip": (evil, _sha(evil))}), tmp_path / "data"
    with pytest.raises(UnsafeArchive, match=r"\.\./\.\./escaped\.txt"):
        _fetch(catalog, root)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not list((root / "DIV2K").rglob("*.png"))  # checked before anything was written
    assert not (root / "DIV2K" / ".bench-download-div2k-test.json").exists()


@pytest.mark.parametrize(
    "members",
    [{"/abs.txt": b"x"}, {"a/../../up.txt": b"x"}, {"link": "../../outside"}, {"link": "/etc/passwd"}],
    ids=["absolute", "dotdot", "link-up", "link-absolute"],
)
def test_unsafe_tar_members_are_rejected(tmp_path: Path, members: dict[str, bytes | str]) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar({"ok.txt": b"fine", **members}))
    with pytest.raises(UnsafeArchive):
        extract_archive(archive, tmp_path / "out", "tar.gz")
    assert list((tmp_path / "out").iterdir()) == []


def test_safe_tar_with_inner_link_extracts(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(_tar({"d/ok.txt": b"fine", "d/alias.txt": "ok.txt"}))
    extract_archive(archive, tmp_path / "out", "tar")
    assert (tmp_path / "out" / "d" / "alias.txt").read_bytes() == b"fine"


def test_unknown_name_lists_known_names(tmp_path: Path) -> None:
    with pytest.raises(UnknownDataset) as info:
        fetch_dataset("div2k-tset", tmp_path)
    assert "div2k-tset" in str(info.value) and "div2k-valid" in str(info.value) and "sid-sony" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_manual_entry_raises_with_instructions(tmp_path: Path) -> None:
    with pytest.raises(ManualDownloadRequired) as info:
        fetch_dataset("gopro", tmp_path)
    assert info.value.page == "https://seungjunnah.github.io/Datasets/gopro.html"
    assert info.value.instructions and "GOPRO_Large.zip" in info.value.instructions
    assert "GOPRO_Large.zip" in str(info.value) and str(tmp_path / "GOPRO_Large") in str(info.value)
    assert not list(tmp_path.iterdir())


def test_http_errors_and_unreachable_server(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="HTTP 404"):
        download_file(server.url("missing.zip"), tmp_path / "m.zip", None, timeout=5, retries=3, backoff=0)
    assert len(server.requests) == 1  # a permanent error is not retried
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(NetworkError, match="3 failed attempts"):
        download_file(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", None, timeout=2, retries=2, backoff=0)


def test_real_catalog_loads_and_validates() -> None:
    catalog = load_catalog()
    div2k = catalog["div2k-valid"]
    base = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
    assert [f.url for f in div2k.files] == [
        base + n for n in ("DIV2K_valid_HR.zip", *(f"DIV2K_valid_LR_bicubic_X{s}.zip" for s in (2, 3, 4)))
    ]
    assert div2k.extract_to == "DIV2K" and {"sr-div2k-x2", "sr-div2k-x4"} <= set(div2k.tasks)
    assert catalog["sid-sony"].files[0].url == "https://storage.googleapis.com/isl-datasets/SID/Sony.zip"
    for name in ("gopro", "reds", "sidd-val"):
        assert catalog[name].manual and catalog[name].page and catalog[name].instructions
    for entry in catalog.values():
        assert entry.manual or entry.files


def test_catalog_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    entry: dict[str, Any] = {"name": "x", "description": "-", "extract_to": "X", "licence": "-", "colour": "rgb"}
    entry["files"] = [{"url": "https://example.org/x.zip", "filename": "x.zip", "sha256": None}]
    path.write_text(yaml.safe_dump({"datasets": [entry]}))
    with pytest.raises(CatalogError, match="colour"):
        load_catalog(path)
    entry.pop("colour")
    entry["extract_to"] = "../outside"
    path.write_text(yaml.safe_dump({"datasets": [entry]}))
    with pytest.raises(CatalogError, match="extract_to"):
        load_catalog(path)


def test_cli_download_and_errors(server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    files = {"DIV2K_valid_HR.zip": (HR_ZIP, _sha(HR_ZIP))}
    _catalog(tmp_path, server, files)
    root, catalog = tmp_path / "data", str(tmp_path / "catalog.yaml")
    assert main(["data", "download", "div2k-test", "--data-root", str(root), "--catalog", catalog]) == 0
    assert (root / "DIV2K" / "DIV2K_valid_HR" / "0801.png").read_bytes() == PNG
    assert "ready in" in capsys.readouterr().out
    assert main(["data", "download", "nope", "--data-root", str(root), "--catalog", catalog]) == 2
    assert "unknown data set 'nope'" in capsys.readouterr().err
    _catalog(tmp_path, server, {"DIV2K_valid_HR.zip": (HR_ZIP, "0" * 64)}, name="bad-sum", extract_to="Bad/")
    assert main(["data", "download", "bad-sum", "--data-root", str(root), "--catalog", catalog]) == 2
    captured = capsys.readouterr()
    assert "sha256" in captured.err and "Traceback" not in captured.err + captured.out
