"""Jobs and documents that name another archive's objects: whoever can publish a job or write a
document must not make the storage service remove or read an object outside the archive it names."""

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway
from tests.storage.archives import new_archive, probed, republish, source_jobs_done, upload_file
from vidar import subjects
from vidar.documents import StoredSource
from vidar.models.events import Envelope
from vidar_storage.source_pointer import SourceJob

pytestmark = pytest.mark.usefixtures("storage", "scheduler")
Keys = Callable[[str], list[str]]


def test_a_forged_removal_of_another_archives_source_removes_nothing(
    api: httpx.Client, gw: Gateway, db: Database, object_keys: Keys, videos: Path
) -> None:
    victim = new_archive(api)
    upload_file(api, victim, videos / "carphone_pristine.mp4")
    probed(api, victim)
    victim_key = db.videos.find_one({"_id": victim})["source"]["key"]
    attacker = new_archive(api)

    removal = SourceJob(video_id=attacker, replaced_key=victim_key)
    forged = StoredSource(key=victim_key, size=1, content_type="video/mp4", sha256="0" * 64)
    replacement = SourceJob(video_id=attacker, source=forged, replaced_key=victim_key)
    for job in (removal, replacement):
        republish(gw, Envelope(type=subjects.SOURCE_JOB, payload=job))

    eventually(lambda: source_jobs_done(gw), what="storage to handle the forged jobs")
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
