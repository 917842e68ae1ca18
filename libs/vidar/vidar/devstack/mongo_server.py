"""The MongoDB-wire server (SecantusDB) with access control on and one user, for `make run` and
the tests: `python -m vidar.devstack.mongo_server --host H --port P --storage-path DIR
--user-file FILE`, FILE holding `{"user": ..., "password": ...}`.

SecantusDB's own daemon (`secantusd-py --auth`) only serves users created over the wire while
access control is off, which would leave the port open to anyone until a restart. Here the user is
written into the storage (with the password of FILE, so a changed password takes effect) before
the server listens.
"""

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from secantus.auth import SCRAM_SHA_256, derive_credentials
from secantus.server import SecantusDBServer
from secantus.storage import Storage

ADMIN_DB = "admin"


def provision_user(storage: Storage, user: str, password: str) -> None:
    """`user`, with every privilege (the stack's only user), as SecantusDB's `createUser` stores it."""
    record = {
        "_id": f"{ADMIN_DB}.{user}",
        "user": user,
        "db": ADMIN_DB,
        "credentials": derive_credentials(password, mechanism=SCRAM_SHA_256, username=user).to_doc(),
        "roles": [{"role": "root", "db": ADMIN_DB}],
        "mechanisms": [SCRAM_SHA_256],
    }
    storage.add_user(ADMIN_DB, user, record, replace=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vidar.devstack.mongo_server", description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage-path", required=True)
    parser.add_argument("--user-file", type=Path, required=True)
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    account = json.loads(args.user_file.read_text())
    # As `secantusd-py` builds it, with access control on.
    server = SecantusDBServer(
        host=args.host, port=args.port, storage_path=args.storage_path, require_auth=True, enable_test_commands=False
    )
    provision_user(server.storage, account["user"], account["password"])

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.start()
    server.wait()


if __name__ == "__main__":
    main()
