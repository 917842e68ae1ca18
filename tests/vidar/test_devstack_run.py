"""`make run`: the whole stack comes up under honcho, prints where it is, and Ctrl-C stops it."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def wait_for_banner(process: subprocess.Popen, timeout: float = 120) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            return "".join(lines)
    raise AssertionError("no banner; output was:\n" + "".join(lines))


def run_once(data_dir: Path, work) -> str:
    """Start `make run`'s entry point, call `work(api_url, token)`, press Ctrl-C; returns the output."""
    command = [sys.executable, "-u", "-m", "vidar.devstack.run", "--free-ports", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = wait_for_banner(process)
        assert re.search(r"API docs:\s+http://\S+/docs", banner)
        api = re.search(r"API:\s+(\S+)", banner).group(1)
        token = re.search(r"admin token:\s+(\S+)", banner).group(1)
        work(api, {"Authorization": f"Token {token}"})
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "SIGINT received" in output
    for name in ("nats", "mongo", "s3", "gateway", "storage", "scheduler", "detector"):
        assert re.search(rf"{name}\s+stopped", output), f"{name} did not stop:\n{output}"
    return output


def test_run_starts_everything_ctrl_c_stops_it_and_data_survives(tmp_path: Path) -> None:
    def create(api: str, headers: dict) -> None:
        assert httpx.post(api, json={"camera_group": 1, "name": "kept"}, headers=headers).status_code == 201

    def find(api: str, headers: dict) -> None:
        names = [video["name"] for video in httpx.get(api, headers=headers).json()["results"]]
        assert names == ["kept"]

    run_once(tmp_path, create)
    run_once(tmp_path, find)
