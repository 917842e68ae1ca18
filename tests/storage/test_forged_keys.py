"""Events and documents that name another archive's objects: whoever can publish an event or write a
document must not make the storage service remove or read an object outside the archive it names."""

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway, consumer_caught_up
from tests.storage.archives import new_archive, probed, republish, upload_file
from vidar.models.events import Envelope, VideoFileDeleted, VideoUploaded

pytestmark = pytest.mark.usefixtures("storage", "scheduler")
Keys = Callable[[str], list[str]]


def storage_caught_up(gw: Gateway) -> bool:
    url = gw.env["VIDAR_NATS_URL"]
    return consumer_caught_up(url, "storage-file-deleted") and consumer_caught_up(url, "storage-uploaded")


def test_a_forged_removal_of_another_archives_source_removes_nothing(
    api: httpx.Client, gw: Gateway, db: Database, object_keys: Keys, videos: Path
) -> None:
    victim = new_archive(api)
    upload_file(api, victim, videos / "carphone_pristine.mp4")
    probed(api, victim)
    victim_key = db.videos.find_one({"_id": victim})["source"]["key"]
    attacker = new_archive(api)

    republish(
        gw, Envelope(type="video.file.deleted", payload=VideoFileDeleted(video_id=attacker, object_key=victim_key))
    )
    replaced = VideoUploaded(
        video_id=attacker,
        object_key=victim_key,
        size=1,
        content_type="video/mp4",
        sha256="0" * 64,
        replaced_key=victim_key,
    )
    republish(gw, Envelope(type="video.uploaded", payload=replaced))

    eventually(lambda: storage_caught_up(gw), what="storage to handle the forged events")
    assert object_keys(f"videos/{victim}/source/") == [victim_key]
    assert api.get(f"/videos/{victim}/source/").status_code == 200


def test_a_forged_source_key_in_the_document_is_not_served(api: httpx.Client, db: Database, videos: Path) -> None:
    victim = new_archive(api)
    upload_file(api, victim, videos / "carphone_pristine.mp4")
    probed(api, victim)
    victim_source = db.videos.find_one({"_id": victim})["source"]
    attacker = new_archive(api)
    db.videos.update_one(
        {"_id": attacker}, {"$set": {"source": victim_source, "screenshot_key": f"videos/{victim}/screenshot.jpg"}}
    )

    assert api.get(f"/videos/{attacker}/source/").status_code == 404
    assert api.get(f"/videos/{attacker}/screenshot/").status_code == 404
    assert api.post(f"/videos/{attacker}/screenshot/").status_code == 409
