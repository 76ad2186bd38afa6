"""Facts about the run environment recorded with every result."""

from __future__ import annotations

import platform
import socket
import subprocess
from pathlib import Path

import torch

import bench
from bench.paths import CHECKOUT


def git_commit(folder: Path | None = None) -> str | None:
    """The commit of the bench checkout (with ``+dirty`` when it has local changes), or None."""
    where = folder or CHECKOUT
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit or None


def environment() -> dict[str, str | None]:
    return {
        "bench_version": bench.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "host": socket.gethostname(),
        "platform": platform.platform(),
    }
