"""Search by photo, event and cluster on the real stack with the real models: carphone's man and
a second person (a real photograph of Obama, filmed as in the clustering test), POST /detect/ on a
JPEG of a carphone frame, the index kept consistent across a re-run and a deletion. The archives
are in a camera group of their own, and the searches keep to it: other tests process carphone too."""

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pymongo.database import Database

from tests.detector.real_faces import PHOTOS
from tests.detector.test_clustering_e2e import carphone, concatenated, photo_footage
from tests.polling import eventually
from tests.scheduler.processing import wait_for
from tests.storage.archives import new_archive, probed, upload_file

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")

FACES = {"face": {"filter_min_size": 30, "post_first_track_frame": True, "post_last_track_frame": True}}


def processed(api: httpx.Client, path: Path, group: int, **settings: object) -> int:
    video_id = new_archive(api, camera_group=group, stream_settings=settings)
    upload_file(api, video_id, path)
    probed(api, video_id)
    api.post(f"/videos/{video_id}/process/")
    wait_for(api, video_id, "COMPLETED", timeout=300)
    eventually(lambda: api.get(f"/videos/{video_id}/").json()["face_cluster_count"], what="the clusters")
    return video_id


@pytest.fixture(scope="module")
def footage(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("search")
    man = carphone(videos)
    other = list(photo_footage(videos / "faces" / f"{PHOTOS['obama'][0]}.jpg"))
    return {
        "two_people": concatenated(folder / "two-people.mp4", man, other),
        "carphone": videos / "carphone_pristine.mp4",
        "photo": photo_of_the_man(man[60], folder / "man.jpg"),
    }


def photo_of_the_man(frame: object, path: Path) -> Path:
    """A frame of carphone, cropped around him and saved as a JPEG: a photo, not an event."""
    Image.fromarray(frame).crop((20, 0, 156, 144)).save(path, quality=90)  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="module")
def group(gw) -> int:
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Token {gw.admin_token}"}, timeout=60) as api:
        return api.post("/camera-groups/", json={"name": "search"}).json()["id"]


@pytest.fixture(scope="module")
def archives(gw, footage: dict[str, Path], group: int) -> dict[str, int]:
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Token {gw.admin_token}"}, timeout=60) as api:
        return {
            "two_people": processed(api, footage["two_people"], group, detectors=FACES),
            "carphone": processed(api, footage["carphone"], group, detectors=FACES),
        }


def faces_of(db: Database, video_id: int) -> dict[str, int]:
    """Event id -> its cluster, for the archive's face events."""
    return {doc["_id"]: doc.get("cluster") for doc in db.detections.find({"video_id": video_id, "kind": "face"})}


def search(api: httpx.Client, path: str = "/events/faces/", **params: object) -> dict:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def until_indexed(api: httpx.Client, looks_like: str, wanted: Callable[[set[str]], bool], **params: object) -> dict:
    """The index follows the stored events within a sync pass (a second)."""

    def found() -> dict | None:
        page = search(api, looks_like=looks_like, limit=100, **params)
        return page if wanted({row["id"] for row in page["results"]}) else None

    return eventually(found, timeout=20, what="the index to follow the stored events")


def detected_face(api: httpx.Client, photo: Path) -> dict:
    response = api.post("/detect/", content=photo.read_bytes(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["orientation"] == 1
    assert found["objects"]["body"] == [] or all(body["id"] for body in found["objects"]["body"])
    (face, *_) = found["objects"]["face"]
    return face


def test_a_photo_finds_the_man_in_both_archives_first_and_the_other_person_below_the_threshold(
    api: httpx.Client, db: Database, archives: dict[str, int], footage: dict[str, Path], group: int
) -> None:
    face = detected_face(api, footage["photo"])
    assert face["expires_at"]
    assert face["bbox"]["left"] < face["bbox"]["right"]
    assert face["bbox"]["top"] < face["bbox"]["bottom"]
    assert 0 < face["detection_score"] <= 1
    assert face["low_quality"] is False
    clusters = faces_of(db, archives["two_people"])
    man_cluster = clusters[min(clusters, key=lambda event: db.detections.find_one({"_id": event})["timestamp"])]
    man = {event for event, cluster in clusters.items() if cluster == man_cluster} | set(
        faces_of(db, archives["carphone"])
    )
    other = set(clusters) - man
    assert len(man) >= 4
    assert other

    query = f"detection:{face['id']}"
    everyone = until_indexed(api, query, lambda ids: man | other <= ids, threshold=0, camera_groups=group)["results"]
    ranked = [row["id"] for row in everyone]
    assert set(ranked[: len(man)]) == man, "the man's events come first"
    confidences = {row["id"]: row["looks_like_confidence"] for row in everyone}
    assert min(confidences[event] for event in man) > 0.5 > max(confidences[event] for event in other)
    assert [row["looks_like_confidence"] for row in everyone] == sorted(confidences.values(), reverse=True)

    default = search(api, looks_like=query, limit=100, camera_groups=group)["results"]
    assert {row["id"] for row in default} == man, "the default threshold leaves the other person out"
    assert set(default[0]) == {*everyone[0]}
    assert "looks_like_confidence" in default[0]


SIDES = ("left", "top", "right", "bottom")


def test_a_findface_client_chains_detect_a_record_s_object_and_looks_like(
    api: httpx.Client, archives: dict[str, int], footage: dict[str, Path], group: int
) -> None:
    """FindFace's documented chain, unchanged: POST /detect/ with the image as the form's `photo`,
    the face found attached to a record (`create_from=detection:<id>`, the same image as
    `source_photo`), and `looks_like=detection:<id>`; the record then finds the man's events."""
    photo = footage["photo"].read_bytes()
    response = api.post("/detect/", files={"photo": ("man.jpg", photo, "image/jpeg")})
    assert response.status_code == 200, response.text
    (face, *_) = response.json()["objects"]["face"]
    watch_list = api.post("/watch-lists/", json={"name": "chain", "camera_groups": [group]}).json()["id"]
    card = api.post("/cards/humans/", json={"name": "the man", "watch_lists": [watch_list]}).json()["id"]
    form = {
        "card": (None, str(card)),
        "create_from": (None, f"detection:{face['id']}"),
        "source_photo": ("man.jpg", photo, "image/jpeg"),
    }
    made = api.post("/objects/faces/", files=form)
    assert made.status_code == 201, made.text
    assert [made.json()[f"frame_coords_{side}"] for side in SIDES] == [face["bbox"][side] for side in SIDES]

    man = {
        row["id"]
        for row in search(api, looks_like=f"detection:{face['id']}", limit=100, camera_groups=group)["results"]
    }
    assert man

    # The record looks through the stored events (retroactive matching) and matches only the man's.
    # An event keeps its best match, so in the shared database an earlier test's record of him may
    # hold some of them: his events are matched, by this record or that one, and none of another's.
    def retro_done() -> dict | None:
        progress = api.get(f"/objects/faces/{made.json()['id']}/").json().get("retro_matching") or {}
        return progress if progress.get("status") == "done" else None

    assert eventually(retro_done, timeout=60, what="the retroactive matching")["checked"] > 0
    by_card = {"matched_card": card, "limit": 100}
    ours = {row["id"] for row in api.get("/events/faces/", params=by_card).json()["results"]}
    assert ours <= man
    matched = {row["id"] for row in search(api, matched="true", limit=100, camera_groups=group)["results"]}
    assert ours or man & matched


def test_an_event_finds_the_other_archive_and_video_archive_narrows_it(
    api: httpx.Client, db: Database, archives: dict[str, int], group: int
) -> None:
    event = next(iter(faces_of(db, archives["carphone"])))
    both = until_indexed(api, f"faceevent:{event}", lambda ids: event in ids, camera_groups=group)["results"]
    assert {row["video_archive"] for row in both} == set(archives.values())
    assert both[0]["looks_like_confidence"] == 1.0
    assert both[0]["id"] == event
    one = search(api, looks_like=f"faceevent:{event}", video_archive=archives["two_people"], limit=100)["results"]
    assert {row["video_archive"] for row in one} == {archives["two_people"]}
    assert [row["id"] for row in one] == [row["id"] for row in both if row["video_archive"] == archives["two_people"]]
    in_group = search(api, looks_like=f"faceevent:{event}", camera_groups=999999)["results"]
    assert in_group == []


def test_pages_of_a_search_use_the_lists_cursors(
    api: httpx.Client, db: Database, archives: dict[str, int], group: int
) -> None:
    event = next(iter(faces_of(db, archives["carphone"])))
    scope = {"looks_like": f"faceevent:{event}", "threshold": 0, "camera_groups": group}
    whole = search(api, limit=100, **scope)["results"]
    walked, page = [], search(api, limit=2, **scope)
    while True:
        walked += page["results"]
        if not page["next_page"]:
            break
        page = search(api, limit=2, page=page["next_page"], **scope)
    assert [row["id"] for row in walked] == [row["id"] for row in whole]
    back = search(api, limit=2, page=page["prev_page"], **scope)
    assert [row["id"] for row in back["results"]] == [
        row["id"] for row in walked[-2 - len(page["results"]) : -len(page["results"])]
    ]


def test_a_cluster_finds_the_clusters_of_the_same_man(
    api: httpx.Client, db: Database, archives: dict[str, int], group: int
) -> None:
    mine = f"{archives['carphone']}-face-1"
    until_indexed(api, f"cluster:{mine}", lambda ids: len(ids) >= 3, camera_groups=group)
    # The clusters list has no camera group filter: other archives' clusters are left out here.
    everywhere = search(api, "/clusters/faces/", looks_like=f"cluster:{mine}", limit=100)["results"]
    found = [row for row in everywhere if int(row["id"].split("-")[0]) in archives.values()]
    assert found[0]["id"] == mine
    assert found[0]["looks_like_confidence"] > 0.75
    clusters = {row["id"] for row in found}
    assert clusters == {mine, f"{archives['two_people']}-face-1"}, "his two clusters, not the other person's"
    events = search(api, looks_like=f"cluster:{mine}", limit=100, camera_groups=group)["results"]
    assert {row["cluster"] for row in events if row["video_archive"] == archives["two_people"]} == {1}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"looks_like": "bodyevent:x"}, 400),
        ({"looks_like": "faceevent:no-such-event"}, 404),
        ({"looks_like": "detection:0123456789abcdef"}, 404),
        ({"looks_like": "cluster:1-face-999999"}, 404),
        ({"looks_like": "a photo"}, 400),
        ({"looks_like": "faceevent:x", "threshold": "1.5"}, 400),
    ],
)
def test_a_bad_looks_like_is_refused_naming_it(api: httpx.Client, params: dict, status: int) -> None:
    response = api.get("/events/faces/", params=params)
    assert response.status_code == status, response.text
    assert response.json()["param"] in {"looks_like", "threshold"}


def test_an_ordering_other_than_similarity_is_refused(
    api: httpx.Client, db: Database, archives: dict[str, int]
) -> None:
    event = next(iter(faces_of(db, archives["carphone"])))
    response = api.get("/events/faces/", params={"looks_like": f"faceevent:{event}", "ordering": "quality"})
    assert (response.status_code, response.json()["param"]) == (400, "ordering")
    response = api.get("/events/faces/", params={"ordering": "-looks_like_confidence"})
    assert (response.status_code, response.json()["param"]) == (400, "ordering")


def test_detect_refuses_what_is_not_an_image_and_what_is_too_large(api: httpx.Client) -> None:
    response = api.post("/detect/", content=b"not an image", headers={"Content-Type": "image/jpeg"})
    assert (response.status_code, response.json()["param"]) == (400, "image")
    response = api.post("/detect/", content=b"x" * (16 * 1024**2 + 1), headers={"Content-Type": "image/png"})
    assert response.status_code == 413
    response = api.post("/detect/", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/events/faces/", "/clusters/faces/"])
def test_an_empty_looks_like_is_no_ranking(api: httpx.Client, path: str) -> None:
    """As django-filter takes an empty filter to be none, and as the OpenAPI schema allows."""
    response = api.get(path, params={"looks_like": "", "limit": 5})
    assert response.status_code == 200, response.text
    assert response.json()["results"] == api.get(path, params={"limit": 5}).json()["results"]


def png_header(width: int, height: int) -> bytes:
    """A PNG that says it is width x height (its pixels never come: only the header is read)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("width", "height"),
    [(8000, 7000), (10_000, 9000), (20_000, 20_000)],
    ids=["over the setting", "over Pillow's warning", "over Pillow's refusal (400 megapixels)"],
)
def test_detect_answers_an_image_of_too_many_pixels_413(api: httpx.Client, width: int, height: int) -> None:
    """The README's promise: over VIDAR_DETECT_MAX_PIXELS (50 M) is a 413, however far over."""
    response = api.post("/detect/", content=png_header(width, height), headers={"Content-Type": "image/png"})
    assert (response.status_code, response.json()["code"], response.json()["param"]) == (413, "TOO_LARGE", "image")


def test_detect_takes_a_multipart_form_and_an_empty_scene_is_no_object(api: httpx.Client) -> None:
    blank = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 90, 90)).save(blank, format="PNG")
    response = api.post("/detect/", files={"photo": ("blank.png", blank.getvalue(), "image/png")})
    assert response.status_code == 200, response.text
    assert response.json() == {"orientation": 1, "objects": {"face": [], "body": [], "car": []}}


def test_a_rerun_replaces_the_archives_vectors_and_a_deleted_archive_leaves_none(
    api: httpx.Client, db: Database, videos: Path, archives: dict[str, int], group: int
) -> None:
    video_id = processed(api, videos / "carphone_pristine.mp4", group, detectors=FACES)
    before = set(faces_of(db, video_id))
    query = f"faceevent:{next(iter(before))}"
    until_indexed(api, query, lambda ids: before <= ids)

    api.post(f"/videos/{video_id}/process/")
    wait_for(api, video_id, "COMPLETED", timeout=300)

    def new_run() -> set[str] | None:
        current = set(faces_of(db, video_id))
        return current if len(current - before) == len(before) else None

    after = eventually(new_run, what="the new run's events, as many as the first's")
    assert not after & before
    query = f"faceevent:{next(iter(after))}"
    found = until_indexed(api, query, lambda ids: after <= ids and not ids & before, video_archive=video_id)
    assert {row["id"] for row in found["results"]} == after

    # Searched by the man's face in another archive: the deleted one's events go, the rest stay.
    other = f"faceevent:{next(iter(faces_of(db, archives['carphone'])))}"
    assert after <= {row["id"] for row in search(api, looks_like=other, limit=100, camera_groups=group)["results"]}
    assert api.delete(f"/videos/{video_id}/").status_code == 204
    remaining = until_indexed(api, other, lambda ids: not ids & after, threshold=0, camera_groups=group)["results"]
    assert {row["video_archive"] for row in remaining} == set(archives.values())

    def records_gone() -> bool:
        return api.get("/events/faces/", params={"looks_like": query}).status_code == 404

    # The index drops its vectors on the deletion's event; the storage service removes its records
    # after its files, which takes longer.
    eventually(records_gone, what="the deleted archive's records to go")
