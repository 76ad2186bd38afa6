"""A throwaway PostgreSQL server for tests: ``postgres_url`` (session scope), and a fresh database per test.

The server runs from the installed PostgreSQL binaries (``/usr/lib/postgresql/*/bin``) in a temporary
folder, listening on 127.0.0.1 at a free port and a private socket folder, with fsync off; as root
it runs as the ``postgres`` user (postgres refuses root). Missing binaries FAIL the tests that need
them (CI installs them in .ci/run): a backend that silently stops being tested is worse.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

_DATABASES = itertools.count()


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/postgres): the postgresql store tests "
            "need them; install them with: apt-get install -y postgresql",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"postgres exited with {process.returncode}:\n{log.read_text()}", pytrace=False)
        try:
            psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.1)
    pytest.fail(f"postgres did not accept connections within {timeout:.0f} s:\n{log.read_text()}", pytrace=False)


def _stop(process: subprocess.Popen[bytes], data: Path) -> None:
    """Fast shutdown (SIGINT to the postmaster), then SIGKILL after 20 s; both by process id."""
    pid_file = data / "postmaster.pid"
    postmaster = int(pid_file.read_text().split()[0]) if pid_file.exists() else process.pid
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
        try:
            os.kill(postmaster, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of database ``bench`` on a PostgreSQL server that lives for the test session."""
    bin_dir = _binaries()
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
    done = subprocess.run(_as_postgres(initdb), capture_output=True, text=True, timeout=120, cwd=root)
    if done.returncode != 0:
        pytest.fail(f"initdb failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    port = _free_port()
    server = [str(bin_dir / "postgres"), "-D", str(data), "-k", str(root), "-h", "127.0.0.1", "-p", str(port),
              "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]  # fmt: skip
    with open(log, "wb") as log_file:
        process = subprocess.Popen(_as_postgres(server), stdout=log_file, stderr=subprocess.STDOUT, cwd=root)
    try:
        _wait_ready(process, port, log)
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
        create_database(url, "bench")
        yield url
    finally:
        _stop(process, data)
        shutil.rmtree(root, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; returns its URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname="postgres",
                         autocommit=True) as connection:  # fmt: skip
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return parsed.set(database=name).render_as_string(hide_password=False)


def fresh_database(url: str) -> str:
    """A new, empty database on the server of ``url`` (one per test keeps tests independent)."""
    return create_database(url, f"t{os.getpid()}_{next(_DATABASES)}")
