"""The AsyncAPI document of vidar's events, generated from the services' FastStream brokers.

`make docs` writes it to docs/asyncapi.json; a test fails when the file and the code disagree.
"""

import json
from pathlib import Path

from faststream.specification import AsyncAPI

from vidar.bus import make_broker
from vidar.settings import VidarSettings
from vidar_detector.app import create_app as detector_app
from vidar_gateway.runtime import declare_publishers
from vidar_scheduler.app import create_app as scheduler_app
from vidar_storage.app import create_app as storage_app

DOCUMENT = Path(__file__).parents[1] / "docs" / "asyncapi.json"


def document() -> str:
    gateway = make_broker(VidarSettings(), name="gateway")
    declare_publishers(gateway)
    brokers = [gateway, *(app().broker for app in (storage_app, scheduler_app, detector_app))]
    specification = AsyncAPI(
        *brokers,
        title="vidar events",
        version="1",
        description="The subjects and payloads vidar's services publish and consume on NATS JetStream.",
    )
    return json.dumps(specification.to_specification().to_jsonable(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(document())
    print(f"wrote {DOCUMENT}")
