"""`make run`: the embedded servers and every service under honcho, until Ctrl-C.

Data lives in .data/ (git-ignored) and survives a restart; so does the admin token.
"""

import argparse
import os
import shlex
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from secrets import token_urlsafe

import httpx
from honcho.manager import Manager
from honcho.printer import Message

from vidar.devstack.servers import HOST, Ports, free_port
from vidar.devstack.stack import embedded_servers, service_env

DATA_DIR = Path(".data")
# The registry weights `make run` fetches (tests/data/fetch_models.sh).
MODELS_DIR = Path(".cache/models")
MODEL_SETTINGS = {
    "body_model": "yolov3-tiny.weights",
    "car_model": "yolov3-tiny.weights",
    "face_model_prototxt": "deploy.prototxt.txt",
    "face_model_caffemodel": "res10_300x300_ssd_iter_140000.caffemodel",
}
GATEWAY_PORT = 8000
# The services that exist so far, each with the command that runs it.
SERVICES = {
    "gateway": ["vidar-gateway", "serve"],
    "storage": ["vidar-storage", "serve"],
    "scheduler": ["vidar-scheduler", "serve"],
    "detector": ["vidar-detector", "serve"],
}


def admin_token(path: Path) -> str:
    if not path.exists():
        path.write_text(token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def announce_when_ready(manager: Manager, api_url: str, token: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        text = f"the gateway is not ready after 120 s: see the log above ({api_url}/readyz)\n"
        manager.events.put(Message("line", text, datetime.now(), "vidar", None))
        return
    banner = (
        "\n"
        f"  vidar is ready\n"
        f"  API:         {api_url}/videos/\n"
        f"  API docs:    {api_url}/docs\n"
        f"  admin token: {token}\n"
        f"  try:  curl -H 'Authorization: Token {token}' {api_url}/videos/\n"
        "  Ctrl-C stops everything.\n"
    )
    manager.events.put(Message("line", banner, datetime.now(), "vidar", None))


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
    api_url = f"http://{HOST}:{http_ports['gateway']}"
    models = {name: str((MODELS_DIR / file).resolve()) for name, file in MODEL_SETTINGS.items()}
    # Readable logs in a terminal, unless asked otherwise; deployments keep the JSON default.
    env = {"VIDAR_LOG_FORMAT": "text", **os.environ}
    env |= service_env(ports, admin_token=token, host=HOST, public_url=api_url, **models)
    manager = Manager()
    for server in embedded_servers(ports, data_dir):
        manager.add_process(server.name, shlex.join(server.command))
    bin_dir = Path(sys.executable).parent
    for name, (program, *args) in SERVICES.items():
        command = shlex.join([str(bin_dir / program), *args])
        manager.add_process(name, command, env={**env, "VIDAR_PORT": str(http_ports[name])})
    threading.Thread(target=announce_when_ready, args=(manager, api_url, token), daemon=True).start()
    manager.loop()
    sys.exit(manager.returncode)


if __name__ == "__main__":
    main()
