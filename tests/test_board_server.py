"""`bench board` starts a real Streamlit server on localhost that answers its health check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bench_board_serves(tmp_path: Path) -> None:
    port = _free_port()
    env = os.environ | {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    command = [sys.executable, "-m", "bench.cli", "board", "--db", str(tmp_path / "b.db"), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        answer = ""
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    answer = response.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert answer == "ok", process.stdout.read() if process.poll() is not None and process.stdout else answer
        assert (tmp_path / "b.db").exists()  # the store was created where --db said
    finally:
        process.terminate()  # bench board execs the server: this stops it
        process.wait(timeout=20)
        if process.stdout:
            process.stdout.close()
