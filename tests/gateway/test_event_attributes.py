"""What was seen, on the events and as their filters (issue 26): the attributes of faces, bodies
and cars, FindFace's filter names, their 400s, and their combinations with every other filter,
the count, the pages and looks_like. Records are written as the storage service writes them."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from minio import Minio
from pymongo.database import Database

from tests.gateway.test_detection_events import START, Archive, count, listed
from tests.gateway.test_detection_events import s3 as s3  # a fixture
from tests.polling import eventually
from tests.stack import Gateway
from tests.storage.test_detections import counts, detection, posted, publish
from vidar.documents import PLATE_SUBSTRINGS
from vidar.models.attributes import (
    AgeFeature,
    BodyFeatures,
    CarFeatures,
    ColorFeature,
    ColorName,
    Emotion,
    EmotionFeature,
    FaceFeatures,
    Gender,
    GenderFeature,
    MedmaskFeature,
    PlateFeature,
)
from vidar_gateway.events.filters import EventFilters

Client = httpx.Client


def face(age: int, gender: Gender, emotion: Emotion = "neutral", masked: bool = False) -> FaceFeatures:
    return FaceFeatures(
        age=AgeFeature(name=age, confidence=0.5),
        gender=GenderFeature(name=gender, confidence=0.9),
        emotions=EmotionFeature(name=emotion, confidence=0.7),
        medmask=MedmaskFeature(name="correct" if masked else "none", confidence=0.95),
    )


def body(top: ColorName, bottom: ColorName) -> BodyFeatures:
    return BodyFeatures(
        top_color=ColorFeature(name=top, confidence=0.8), bottom_color=ColorFeature(name=bottom, confidence=0.6)
    )


def car(color: ColorName, plate: str | None = None) -> CarFeatures:
    return CarFeatures(
        color=ColorFeature(name=color, confidence=0.9),
        license_plate_number=PlateFeature(name=plate, confidence=0.7) if plate else None,
    )


@pytest.fixture
def video(api: Client, db: Database, s3: Minio, camera_group: int) -> Archive:
    return Archive(api, db, s3, camera_group)


@pytest.fixture
def new_archive(api: Client, db: Database, s3: Minio, camera_group: int) -> Callable[[], Archive]:
    return lambda: Archive(api, db, s3, camera_group)


def test_each_attribute_is_on_its_event_and_null_for_old_events(api: Client, video: Archive) -> None:
    man = video.event(features=face(34, "male", "happy"))
    old = video.event()
    walker = video.event(kind="body", features=body("red", "blue"))
    white_car = video.event(kind="car", features=car("white", "AB777C"))
    assert api.get(f"/events/faces/{man}/").json()["features"] == {
        "age": {"name": 34, "confidence": 0.5},
        "gender": {"name": "male", "confidence": 0.9},
        "emotions": {"name": "happy", "confidence": 0.7},
        "medmask": {"name": "none", "confidence": 0.95},
    }
    assert api.get(f"/events/faces/{old}/").json()["features"] is None
    assert api.get(f"/events/bodies/{walker}/").json()["features"] == {
        "top_color": {"name": "red", "confidence": 0.8},
        "bottom_color": {"name": "blue", "confidence": 0.6},
    }
    rows = api.get("/events/cars/", params={"video_archive": video.id}).json()["results"]
    assert [row["features"] for row in rows] == [
        {"color": {"name": "white", "confidence": 0.9}, "license_plate_number": {"name": "AB777C", "confidence": 0.7}}
    ]
    assert rows[0]["id"] == white_car


def test_face_filters(api: Client, video: Archive) -> None:
    young_woman = video.event(features=face(22, "female", "happy"))
    man = video.event(features=face(35, "male", "sad", masked=True))
    older_man = video.event(features=face(61, "male", "neutral"))
    unknown = video.event()
    mine = {"video_archive": video.id}
    for params, expected in (
        ({}, [young_woman, man, older_man, unknown]),
        ({"gender": "male"}, [man, older_man]),
        ({"gender": "male,female"}, [young_woman, man, older_man]),
        ({"gender": ["female", "male"]}, [young_woman, man, older_man]),
        ({"age_gte": 30}, [man, older_man]),
        ({"age_lte": 35}, [young_woman, man]),
        ({"age_gte": 30, "age_lte": 40}, [man]),
        ({"age_gte": 35, "age_lte": 35}, [man]),
        ({"age_gte": 40, "age_lte": 30}, []),
        ({"emotions": "happy,neutral"}, [young_woman, older_man]),
        ({"medmask": "correct"}, [man]),
        ({"medmask": "none", "gender": "male"}, [older_man]),
        ({"gender": "male", "age_gte": 30, "emotions": "sad", "medmask": "correct"}, [man]),
    ):
        assert sorted(listed(api, **mine, **params)) == sorted(expected), params
        assert count(api, **mine, **params) == len(expected), params


def test_body_and_car_filters(api: Client, video: Archive) -> None:
    red_blue = video.event(kind="body", features=body("red", "blue"))
    red_black = video.event(kind="body", features=body("red", "black"))
    grey_black = video.event(kind="body", features=body("grey", "black"))
    white = video.event(kind="car", features=car("white", "AB777C"))
    white_plain = video.event(kind="car", features=car("white"))
    black = video.event(kind="car", features=car("black", "X7.7Y"))
    mine = {"video_archive": video.id}
    bodies, cars = "/events/bodies/", "/events/cars/"
    for path, params, expected in (
        (bodies, {"top_color": "red"}, [red_blue, red_black]),
        (bodies, {"bottom_color": "black"}, [red_black, grey_black]),
        (bodies, {"top_color": "red", "bottom_color": "black"}, [red_black]),
        (bodies, {"top_color": "grey,red", "bottom_color": "blue"}, [red_blue]),
        (cars, {"color": "white"}, [white, white_plain]),
        (cars, {"color": "black,white"}, [white, white_plain, black]),
        (cars, {"license_plate_number": "77"}, [white]),
        (cars, {"license_plate_number": "ab7"}, [white]),
        (cars, {"license_plate_number": "."}, [black]),
        (cars, {"license_plate_number": "7.7"}, [black]),
        (cars, {"license_plate_number": "X7.7Y", "color": "white"}, []),
    ):
        assert sorted(listed(api, path, **mine, **params)) == sorted(expected), params
        assert count(api, f"{path}count/", **mine, **params) == len(expected), params


def test_attribute_filters_combine_with_every_other_filter_and_pages(
    api: Client, new_archive: Callable[[], Archive], camera_group: int
) -> None:
    video, other = new_archive(), new_archive()
    women = [
        video.event(track=f"1-{n}", quality=0.1 * n, created=START + timedelta(hours=n), features=face(30, "female"))
        for n in range(1, 8)
    ]
    video.event(track="1-9", quality=0.95, features=face(30, "male"))
    elsewhere = other.event(track="1-1", quality=0.9, features=face(30, "female"))
    women_here = {"video_archive": video.id, "gender": "female"}
    assert sorted(listed(api, **women_here, quality_gte=0.5)) == sorted(women[4:])
    assert listed(api, **women_here, track="1-3") == [women[2]]
    assert listed(api, **women_here, created_date_lt=(START + timedelta(hours=2)).isoformat()) == [women[0]]
    assert listed(api, **women_here, ordering="-quality", limit=2) == [women[6], women[5]]
    assert {*women, elsewhere} <= set(listed(api, gender="female", camera_groups=camera_group))
    assert count(api, **women_here, quality_gte=0.5) == 3

    for ordering in ("created_date", "-quality", "timestamp"):
        pages, params = [], {**women_here, "age_gte": 30, "limit": 3, "ordering": ordering}
        page = api.get("/events/faces/", params=params).json()
        pages += page["results"]
        while page["next_page"]:
            page = api.get("/events/faces/", params={**params, "page": page["next_page"]}).json()
            pages += page["results"]
        assert sorted(row["id"] for row in pages) == sorted(women), ordering
        assert len(pages) == len(women), ordering


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/events/faces/", {"gender": "robot"}, "gender.0"),
        ("/events/faces/", {"gender": "male,x"}, "gender.1"),
        ("/events/faces/", {"age_gte": "-1"}, "age_gte"),
        ("/events/faces/", {"age_lte": "thirty"}, "age_lte"),
        ("/events/faces/", {"age_gte": "30.5"}, "age_gte"),
        ("/events/faces/count/", {"emotions": "bored"}, "emotions.0"),
        ("/events/faces/", {"medmask": "yes"}, "medmask.0"),
        ("/events/bodies/", {"top_color": "reddish"}, "top_color.0"),
        ("/events/bodies/count/", {"bottom_color": "RED"}, "bottom_color.0"),
        ("/events/cars/", {"color": "gold"}, "color.0"),
        ("/events/cars/", {"license_plate_number": "A" * 17}, "license_plate_number"),
        ("/events/bodies/", {"gender": "male"}, "gender"),
        ("/events/faces/", {"top_color": "red"}, "top_color"),
        ("/events/faces/count/", {"color": "red"}, "color"),
        ("/events/cars/count/", {"age_gte": "30"}, "age_gte"),
        ("/events/bodies/", {"license_plate_number": "77"}, "license_plate_number"),
        ("/events/cars/", {"bottom_color": "red", "looks_like": "carevent:x"}, "bottom_color"),
    ],
)
def test_unknown_values_and_other_kinds_filters_are_400_naming_the_field(
    api: Client, path: str, params: dict, param: str
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["param"]) == ("BAD_PARAM", param)


def test_the_best_event_of_a_cluster_carries_its_attributes(api: Client, video: Archive) -> None:
    best = video.event(kind="car", quality=0.9, features=car("red", "K123LM"), cluster=1)
    other = video.event(kind="car", quality=0.2, cluster=1)
    video.cluster(1, [best, other], best, kind="car")
    (row,) = api.get("/clusters/cars/", params={"video_archive": video.id}).json()["results"]
    assert row["best_event"]["features"]["license_plate_number"]["name"] == "K123LM"


def test_filters_are_documented(api: Client) -> None:
    spec = api.get("/openapi.json").json()
    for path in ("/events/{object_type}/", "/events/{object_type}/count/"):
        described = {p["name"]: p.get("description", "") for p in spec["paths"][path]["get"]["parameters"]}
        for name, kind in (("gender", "faces"), ("age_gte", "faces"), ("top_color", "bodies"), ("color", "cars")):
            assert described[name].startswith(f"{kind}:"), (path, name)


@pytest.mark.usefixtures("storage")
def test_attribute_filters_apply_to_a_looks_like_ranking(api: Client, gw: Gateway, db: Database) -> None:
    video_id = api.post("/videos/", json={"camera_group": 1, "name": "looks like"}).json()["id"]
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    vector = np.random.default_rng(26).normal(0, 0.05, 128)
    people = [
        detection(video_id, "run-a", "face", track).model_copy(
            update={"embedding": (vector + 0.001 * track).tolist(), "features": face(20 + track, gender)}
        )
        for track, gender in enumerate(("male", "female", "male", "female"))
    ]
    publish(gw, *(posted(person) for person in people))
    eventually(lambda: counts(api, video_id) == (4, 0, 0), what="the faces stored")
    query = {"video_archive": video_id, "looks_like": f"faceevent:{people[0].event_id}", "threshold": 0.9}

    def ranked(**params: object) -> list[str]:
        response = api.get("/events/faces/", params={**query, **params})
        assert response.status_code == 200, response.text
        return [row["id"] for row in response.json()["results"]]

    eventually(lambda: len(ranked()) == 4, what="the faces in the search index")
    assert ranked(gender="female") == [people[1].event_id, people[3].event_id]
    assert ranked(gender="male", age_gte=21) == [people[2].event_id]
    assert ranked(gender="female", limit=1)[0] == people[1].event_id


def test_attribute_filters_are_one_condition_a_field_before_the_kind() -> None:
    filters = EventFilters(
        video_archive=3, gender=["male", "male"], age_gte=30, age_lte=39, emotions=["sad", "happy"], quality_gte=0.5
    )
    query = filters.to_query("face", UTC, datetime.now(UTC))
    assert not any(key.startswith("$") for key in query)
    assert list(query)[:5] == [
        "video_id",
        "features.age.name",
        "features.gender.name",
        "features.emotions.name",
        "kind",
    ], "the archive, then the attributes, lead the kind"
    assert query["features.gender.name"] == "male", "one value is a bare equality"
    assert query["features.age.name"] == {"$gte": 30, "$lte": 39}
    assert query["features.emotions.name"] == {"$in": ["happy", "sad"]}
    plate = EventFilters(license_plate_number="a.7*").to_query("car", UTC, datetime.now(UTC))
    assert plate[PLATE_SUBSTRINGS] == "A.7*", "a piece of a plate, upper-cased: no pattern"
