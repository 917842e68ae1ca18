"""/objects/faces/, /objects/bodies/, /objects/cars/ on the real stack: a photo attached to a record
from an uploaded photo (detected and embedded by the real detector, as POST /detect/ does), from a
POST /detect/ result, or from a stored event; bad input named; a record's objects deleted with it."""

import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from minio import Minio
from PIL import Image
from pymongo.database import Database

from tests.detector.test_clustering_e2e import carphone
from tests.gateway.test_detection_events import Archive
from tests.gateway.test_watch_lists import client_of, new_watch_list
from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway
from vidar.devstack.servers import HOST, Ports
from vidar_gateway.auth import Role
from vidar_gateway.records.objects.sources import thumbnail_of
from vidar_gateway.search.images import CheckedImage, checked_image


@pytest.fixture(scope="module")
def s3(stack: Ports) -> Minio:
    return Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)


@pytest.fixture(scope="module")
def photos(videos: Path) -> dict[str, bytes]:
    """carphone's man cropped from a frame (one face), twice side by side at two sizes (two faces),
    and a blank picture (none)."""
    man = Image.fromarray(carphone(videos)[60]).crop((20, 0, 156, 144))
    pair = Image.new("RGB", (man.width * 3, man.height * 2))
    pair.paste(man, (0, 0))
    pair.paste(man.resize((man.width * 2, man.height * 2)), (man.width, 0))
    return {"man": jpeg(man), "two": jpeg(pair), "blank": jpeg(Image.new("RGB", (200, 200), (90, 90, 90)))}


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_a_thumbnail_is_cut_from_the_photo_turned_upright() -> None:
    """A phone's JPEG is stored sideways with an EXIF orientation; the detector's box is in the
    upright picture, as OpenCV decodes it."""
    sideways = Image.new("RGB", (200, 100), (90, 90, 90))
    exif = Image.Exif()
    exif[0x0112] = 6  # turned a quarter: shown 100 wide and 200 high
    stored = io.BytesIO()
    sideways.save(stored, format="JPEG", exif=exif)
    thumbnail = Image.open(io.BytesIO(thumbnail_of(stored.getvalue(), (0.0, 0.0, 100.0, 150.0))))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (100, 150))


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_the_image_check_reads_the_exif_orientation_from_the_header(image_format: str) -> None:
    """What POST /detect/ answers as `orientation`, and POST /objects/ shares: 1 without EXIF."""
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways, upright = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (20, 10)).save(sideways, format=image_format, exif=exif)
    Image.new("RGB", (20, 10)).save(upright, format=image_format)
    media_type = f"image/{image_format.lower()}"
    assert checked_image(sideways.getvalue(), "image", 1000) == CheckedImage(media_type, 6)
    assert checked_image(upright.getvalue(), "image", 1000) == CheckedImage(media_type, 1)


@pytest.fixture
def human(api: httpx.Client) -> int:
    watch_list = new_watch_list(api, name="objects")["id"]
    return api.post("/cards/humans/", json={"name": "the man", "watch_lists": [watch_list]}).json()["id"]


def attach(
    api: httpx.Client, object_type: str, card: int, photo: bytes | None = None, **fields: object
) -> httpx.Response:
    fields = {"card": card, **fields}
    # Every field as a part of a multipart form, as FindFace's clients send it, with or without a file.
    parts: dict[str, tuple] = {name: (None, str(value)) for name, value in fields.items()}
    if photo is not None:
        parts["source_photo"] = ("man.jpg", photo, "image/jpeg")
    return api.post(f"/objects/{object_type}/", files=parts)


def created(response: httpx.Response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def face_count(api: httpx.Client, card: int) -> int:
    return api.get(f"/cards/humans/{card}/").json()["face_objects"]


@pytest.mark.usefixtures("detector")
def test_a_photo_of_one_face_is_attached_and_deleted(
    api: httpx.Client, human: int, photos: dict[str, bytes], object_keys: Callable[[str], list[str]]
) -> None:
    face = created(attach(api, "faces", human, photos["man"]))
    assert (face["card"], face["active"], face["create_from"], face["source_photo_name"]) == (
        human,
        True,
        None,
        "man.jpg",
    )
    assert 0 < face["quality"] <= 1
    assert 0 <= face["frame_coords_left"] < face["frame_coords_right"] <= 136
    assert face_count(api, human) == 1
    assert api.get(f"/objects/faces/{face['id']}/").json() == face
    assert [row["id"] for row in api.get("/objects/faces/", params={"card": human}).json()["results"]] == [face["id"]]

    assert api.get(face["source_photo"]).content == photos["man"]
    thumbnail = Image.open(io.BytesIO(api.get(face["thumbnail"]).content))
    width = face["frame_coords_right"] - face["frame_coords_left"]
    assert (thumbnail.format, thumbnail.width) == ("JPEG", width)

    assert api.delete(f"/objects/faces/{face['id']}/").status_code == 204
    assert api.get(f"/objects/faces/{face['id']}/").status_code == 404
    assert face_count(api, human) == 0
    assert object_keys(f"records/faces/{face['id']}/") == []


@pytest.mark.usefixtures("detector")
def test_a_detect_result_is_attached_with_its_photo(api: httpx.Client, human: int, photos: dict[str, bytes]) -> None:
    detected = api.post("/detect/", content=photos["man"], headers={"Content-Type": "image/jpeg"}).json()
    (detection, *_) = detected["objects"]["face"]
    face = created(attach(api, "faces", human, photos["man"], create_from=f"detection:{detection['id']}"))
    assert face["create_from"] == f"detection:{detection['id']}"
    sides = ("left", "top", "right", "bottom")
    assert [face[f"frame_coords_{side}"] for side in sides] == [detection["bbox"][side] for side in sides]

    response = attach(api, "faces", human, create_from=f"detection:{detection['id']}")
    assert (response.status_code, response.json()["param"]) == (400, "source_photo")


@pytest.mark.usefixtures("detector")
def test_a_photo_needs_exactly_one_face_unless_the_biggest_is_asked_for(
    api: httpx.Client, human: int, photos: dict[str, bytes]
) -> None:
    for photo in ("blank", "two"):
        response = attach(api, "faces", human, photos[photo])
        assert (response.status_code, response.json()["param"]) == (400, "source_photo"), photo
    biggest = created(attach(api, "faces", human, photos["two"], mf_selector="biggest"))
    assert biggest["frame_coords_left"] >= 136  # the bigger copy is on the right
    assert face_count(api, human) == 1


def test_an_event_is_attached_with_its_frame_and_thumbnail(
    api: httpx.Client, db: Database, s3: Minio, camera_group: int, human: int
) -> None:
    event_id = Archive(api, db, s3, camera_group).event()
    face = created(attach(api, "faces", human, create_from=f"faceevent:{event_id}"))
    assert face["create_from"] == f"faceevent:{event_id}"
    assert [face[f"frame_coords_{side}"] for side in ("left", "top", "right", "bottom")] == [10, 12, 50, 60]
    assert api.get(face["thumbnail"]).content == api.get(f"/events/faces/{event_id}/thumbnail/").content
    assert api.get(face["source_photo"]).content == api.get(f"/events/faces/{event_id}/full_frame/").content
    stored = db.face_objects.find_one({"_id": int(face["id"])})
    assert (stored["kind"], len(stored["embedding"])) == ("face", 128)


def test_an_object_is_a_template_and_is_turned_off(
    api: httpx.Client, db: Database, s3: Minio, camera_group: int, human: int
) -> None:
    event_id = Archive(api, db, s3, camera_group).event()
    face = created(attach(api, "faces", human, create_from=f"faceevent:{event_id}"))
    copy = created(attach(api, "faces", human, create_from=f"faceobject:{face['id']}"))
    assert copy["id"] != face["id"]
    assert api.get(copy["thumbnail"]).content == api.get(face["thumbnail"]).content
    assert api.get(copy["source_photo"]).content == api.get(face["source_photo"]).content
    assert face_count(api, human) == 2

    turned_off = api.patch(f"/objects/faces/{copy['id']}/", json={"active": False})
    assert (turned_off.status_code, turned_off.json()["active"]) == (200, False), turned_off.text
    listed = api.get("/objects/faces/", params={"card": human, "active": "false"}).json()["results"]
    assert [row["id"] for row in listed] == [copy["id"]]
    response = api.patch(f"/objects/faces/{copy['id']}/", json={"active": "no"})
    assert (response.status_code, response.json()["param"]) == (400, "active")


def test_a_record_deleted_takes_its_objects_and_their_images(
    api: httpx.Client, db: Database, s3: Minio, camera_group: int, human: int, object_keys: Callable[[str], list[str]]
) -> None:
    event_id = Archive(api, db, s3, camera_group).event()
    faces = [created(attach(api, "faces", human, create_from=f"faceevent:{event_id}"))["id"] for _ in range(2)]
    assert face_count(api, human) == 2
    assert api.delete(f"/cards/humans/{human}/").status_code == 204
    for face in faces:
        assert api.get(f"/objects/faces/{face}/").status_code == 404
        assert object_keys(f"records/faces/{face}/") == []
    response = attach(api, "faces", human, create_from=f"faceevent:{event_id}")
    assert (response.status_code, response.json()["param"]) == (400, "card")


def test_bad_input_is_a_400_naming_the_field(
    api: httpx.Client, db: Database, s3: Minio, camera_group: int, human: int, photos: dict[str, bytes]
) -> None:
    archive = Archive(api, db, s3, camera_group)
    face_event, body_event = archive.event(), archive.event(kind="body", track="2-1")
    cases = [
        (attach(api, "faces", human), "source_photo"),
        (attach(api, "faces", human, b"not an image"), "source_photo"),
        (attach(api, "faces", human, photos["man"], create_from=f"faceevent:{face_event}"), "source_photo"),
        (attach(api, "faces", human, create_from="faceevent:no-such-event"), "create_from"),
        (attach(api, "faces", human, create_from=f"bodyevent:{body_event}"), "create_from"),
        (attach(api, "bodies", human, create_from=f"bodyevent:{body_event}"), "create_from"),  # no body embedding
        (attach(api, "faces", human, photos["man"], create_from="detection:expired"), "create_from"),
        (attach(api, "faces", human, create_from="cluster:1"), "create_from"),
        (attach(api, "faces", human, create_from="bodyobject:1"), "create_from"),
        (attach(api, "faces", human, create_from="faceobject:9000000"), "create_from"),
        (attach(api, "faces", 9_000_000, create_from=f"faceevent:{face_event}"), "card"),
        (attach(api, "cars", 9_000_000, create_from=f"carevent:{face_event}"), "card"),
        (attach(api, "faces", human, create_from=f"faceevent:{face_event}", active="maybe"), "active"),
        (attach(api, "faces", human, create_from=f"faceevent:{face_event}", mf_selector="all"), "mf_selector"),
        (api.post("/objects/faces/", files={"create_from": (None, f"faceevent:{face_event}")}), "card"),
    ]
    for number, (response, param) in enumerate(cases):
        assert (response.status_code, response.json().get("param")) == (400, param), (number, response.text)
    not_a_form = api.post("/objects/faces/", json={"card": human, "create_from": f"faceevent:{face_event}"})
    assert (not_a_form.status_code, not_a_form.json()["param"]) == (415, "Content-Type")
    assert face_count(api, human) == 0


def test_viewers_read_objects_and_cannot_attach(
    gw: Gateway, db: Database, s3: Minio, api: httpx.Client, camera_group: int, human: int
) -> None:
    event_id = Archive(api, db, s3, camera_group).event()
    face = created(attach(api, "faces", human, create_from=f"faceevent:{event_id}"))
    with client_of(gw, db, Role.VIEWER) as viewer:
        assert viewer.get(f"/objects/faces/{face['id']}/thumbnail/").status_code == 200
        assert viewer.get("/objects/faces/", params={"card": human}).status_code == 200
        response = attach(viewer, "faces", human, create_from=f"faceevent:{event_id}")
        assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")
        assert viewer.delete(f"/objects/faces/{face['id']}/").status_code == 403
    assert httpx.get(f"{gw.url}/objects/faces/{face['id']}/").status_code == 401
