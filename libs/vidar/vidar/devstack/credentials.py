"""The embedded servers' credentials: `make run` generates them on first run and keeps them in a
file that only its owner reads, beside the admin token; every server refuses a client without them.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from secrets import token_urlsafe

USER = "vidar"


@dataclass(frozen=True)
class Credentials:
    nats_password: str
    mongo_password: str
    s3_secret_key: str
    # Signs the tokens SeaweedFS's S3 gateway hands its filer and volume servers, which refuse
    # requests without one.
    weed_signing_key: str
    # The NATS and MongoDB user and the S3 access key.
    user: str = USER

    @classmethod
    def generate(cls) -> "Credentials":
        return cls(
            nats_password=token_urlsafe(24),
            mongo_password=token_urlsafe(24),
            s3_secret_key=token_urlsafe(24),
            weed_signing_key=token_urlsafe(32),
        )

    @classmethod
    def kept_in(cls, path: Path) -> "Credentials":
        """The credentials in `path`, generated and written there first if there are none."""
        if not path.exists():
            write_private(path, json.dumps(asdict(cls.generate()), indent=2))
        return cls(**json.loads(path.read_text()))


def write_private(path: Path, text: str) -> None:
    """`text` in a file only its owner may read, readable by nobody else at any moment."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)
