"""Submitted folders kept in the store, content-addressed by the submission's hash.

:func:`put` copies every file a runtime may read (the manifest, the named files and, for ONNX, the
rest of the folder: :func:`bench.submission.runtime_files`) into ``artifact_files``; the same bytes
submitted again are recognised by their hash and not copied twice. :func:`materialize` writes them
back as a folder under a worker's cache (``<root>/<sha256>``), atomically (a temporary folder
renamed into place), and checks that the folder's hash is the one submitted, so a worker scores
exactly the bytes that were sent.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.errors import ServiceError
from bench.store import Store
from bench.store.models import ArtifactFileRow
from bench.submission import MANIFEST, Submission, load_submission, named_files, runtime_files, safe_path


def files_of(submission: Submission) -> list[str]:
    """The folder's files a runtime may read, relative: the manifest, the named files, the runtime's others."""
    named = named_files(submission.manifest)
    return sorted({MANIFEST, *named, *runtime_files(submission.folder, submission.manifest)})


def put(session: Session, submission: Submission) -> bool:
    """Copy ``submission``'s files into the store (in the caller's transaction); False when they are there."""
    if session.scalar(select(ArtifactFileRow.id).where(ArtifactFileRow.sha256 == submission.sha256).limit(1)):
        return False
    for relative in files_of(submission):
        data = safe_path(submission.folder, relative).read_bytes()
        session.add(ArtifactFileRow(sha256=submission.sha256, path=relative, data=data))
    session.flush()
    return True


def materialize(store: Store, sha256: str, root: Path) -> Submission:
    """The submitted folder ``sha256`` under ``root`` (written from the store unless already there), checked."""
    folder = root / sha256
    if folder.is_dir():
        submission = load_submission(folder)
        if submission.sha256 == sha256:
            return submission
        shutil.rmtree(folder)  # a folder that does not hash to its name: written again
    root.mkdir(parents=True, exist_ok=True)
    with Session(store.engine) as session:
        rows = session.execute(
            select(ArtifactFileRow.path, ArtifactFileRow.data).where(ArtifactFileRow.sha256 == sha256)
        ).all()
    if not rows:
        raise ServiceError(f"the store holds no submitted files with hash {sha256}")
    scratch = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    for relative, data in rows:
        target = scratch / relative
        if not target.resolve().is_relative_to(scratch.resolve()):
            raise ServiceError(f"stored file {relative!r} of {sha256} leaves its folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    submission = load_submission(scratch)
    if submission.sha256 != sha256:
        shutil.rmtree(scratch)
        raise ServiceError(f"the stored files of {sha256} hash to {submission.sha256}; the store is damaged")
    try:
        scratch.rename(folder)
    except OSError:  # another worker put it there first
        shutil.rmtree(scratch, ignore_errors=True)
    return load_submission(folder)
