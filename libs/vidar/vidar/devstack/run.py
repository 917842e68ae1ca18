"""`make run`: the embedded servers and every service under supervisord, until Ctrl-C.

A process that dies is started again (`vidar.devstack.supervision`); Ctrl-C or SIGTERM stops
everything. Data lives in .data/ (git-ignored) and survives a restart; so do the admin token and the servers'
credentials (`credentials.json`), both generated on first run and readable by their owner only.
"""

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from secrets import token_urlsafe

import httpx

from vidar.devstack.credentials import Credentials, write_private
from vidar.devstack.servers import HOST, Ports, free_port
from vidar.devstack.stack import embedded_servers, service_env
from vidar.devstack.supervision import Program, Supervision

DATA_DIR = Path(".data")
# The registry weights `make run` fetches (tests/data/fetch_models.sh).
MODELS_DIR = Path(".cache/models")
MODEL_SETTINGS = {
    "body_model": "yolov5s.onnx",
    "car_model": "yolov5s.onnx",
    "face_model_prototxt": "deploy.prototxt.txt",
    "face_model_caffemodel": "res10_300x300_ssd_iter_140000.caffemodel",
    "appearance_model": "mobilenetv2-bottleneck.onnx",
    "attribute_models": ".",  # the folder itself: the attribute networks under their own names
}
GATEWAY_PORT = 8000
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The services that exist so far, each with the command that runs it.
SERVICES = {
    "gateway": ["vidar-gateway", "serve"],
    "storage": ["vidar-storage", "serve"],
    "scheduler": ["vidar-scheduler", "serve"],
    "detector": ["vidar-detector", "serve"],
}


def admin_token(path: Path) -> str:
    if not path.exists():
        write_private(path, token_urlsafe(32))
    return path.read_text().strip()


def gateway_ready(supervisord: subprocess.Popen, api_url: str, timeout: float = 120) -> bool:
    """Whether the gateway answers in time; False at once if supervisord has stopped."""
    deadline = time.monotonic() + timeout
    while supervisord.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200:
                return True
        time.sleep(0.5)
    return False


def announce_when_ready(supervisord: subprocess.Popen, api_url: str, token: str, log_dir: Path) -> None:
    if not gateway_ready(supervisord, api_url):
        if supervisord.poll() is None:
            print(f"the gateway is not ready after 120 s: see the log above ({api_url}/readyz)", flush=True)
        return
    banner = (
        "\n"
        f"  vidar is ready\n"
        f"  web UI:      {api_url}/  (sign in with the admin token)\n"
        f"  API:         {api_url}/videos/\n"
        f"  API docs:    {api_url}/docs\n"
        f"  admin token: {token}\n"
        f"  try:  curl -H 'Authorization: Token {token}' {api_url}/videos/\n"
        f"  logs:        {log_dir}/ (a file a process; NATS, MongoDB and S3 log only there)\n"
        "  A process that dies is started again. Ctrl-C stops everything.\n"
    )
    print(banner, flush=True)


def start_supervisord(config: Path, env: dict[str, str]) -> subprocess.Popen:
    """supervisord in its own process group, so that only this process gets the terminal's
    signals (supervisord takes SIGHUP as "restart all"), and stopped if this process dies."""
    command = [sys.executable, "-m", "supervisor.supervisord", "--configuration", str(config)]
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, process_group=0, preexec_fn=_stop_with_parent)


def _stop_with_parent() -> None:
    """Linux's parent-death signal: supervisord gets SIGTERM even if `make run` is killed -9."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where the servers keep their data")
    parser.add_argument("--free-ports", action="store_true", help="any free ports instead of the standard ones")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = Ports.free() if args.free_ports else Ports()
    # Each service's HTTP port (API or health probes): 8000 for the gateway, then one each.
    http_ports = {name: free_port() if args.free_ports else GATEWAY_PORT + index for index, name in enumerate(SERVICES)}
    token = admin_token(data_dir / "admin-token")
    credentials = Credentials.kept_in(data_dir / "credentials.json")
    api_url = f"http://{HOST}:{http_ports['gateway']}"
    models = {name: str((MODELS_DIR / file).resolve()) for name, file in MODEL_SETTINGS.items()}
    # Readable logs in a terminal, unless asked otherwise; deployments keep the JSON default.
    env = {"VIDAR_LOG_FORMAT": "text", **os.environ}
    env |= service_env(ports, credentials, admin_token=token, host=HOST, public_url=api_url, **models)
    servers = [Program(server.name, server.command) for server in embedded_servers(ports, data_dir, credentials)]
    bin_dir = Path(sys.executable).parent
    services = [
        Program(name, [str(bin_dir / program), *arguments], env={"VIDAR_PORT": str(http_ports[name])})
        for name, (program, *arguments) in SERVICES.items()
    ]
    supervision = Supervision(data_dir)
    supervisord = start_supervisord(supervision.write_config(servers, services), env)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: supervisord.terminate())
    announce_when_ready(supervisord, api_url, token, supervision.log_dir)
    sys.exit(supervisord.wait())


if __name__ == "__main__":
    main()
