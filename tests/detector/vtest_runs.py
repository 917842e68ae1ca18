"""What the tests of runs on vtest.avi share: the settings of the resumed-run tests, the parked
vehicles as labelled, and an archive's stored records and images read back."""

import io
import json
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from pymongo.database import Database

from tests.polling import eventually

# Bodies and cars of at least 20 px (the resumed-run tests compare a killed run with a clean one;
# fewer, surer tracks keep them quick).
BODY = {"filter_min_size": 20, "filter_track_min_duration_frames": 10}
CAR = {"filter_min_size": 20}
LABELS = Path(__file__).parents[1] / "data" / "labels" / "vtest.json"


def labelled_vehicles() -> list[tuple[float, float, float, float]]:
    """The white van and the blue car parked in the top right corner all along (the car cut
    by the frame's right edge), as labelled on the first frame: left to right."""
    first = json.loads(LABELS.read_text())["frames"][0]
    return sorted(tuple(found["box"]) for found in first["objects"] if found["kind"] == "car")


def image_of(api: httpx.Client, url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(api.get(url).content)).convert("RGB"))


def stored(api: httpx.Client, db: Database, video: dict, kind: str, object_type: str) -> list[dict]:
    """The run's records of a kind, once the archive's counter and the events API agree."""
    posted = video["health_status"]["statistic"]["objects"][kind]["posted"]
    counter = f"{kind}_count"
    count = eventually(
        lambda: (count := api.get(f"/videos/{video['id']}/").json()[counter]) == posted and count,
        what=f"{counter} to reach the posted count",
    )
    records = list(db.detections.find({"video_id": video["id"], "kind": kind}))
    events = api.get(f"/events/{object_type}/count/", params={"video_archive": video["id"]}).json()["count"]
    assert len(records) == count == events
    assert len({record["track_id"] for record in records}) == count, "one best post per track"
    return records
