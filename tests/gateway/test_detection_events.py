"""/events/<type>/ and /clusters/<type>/ on the real stack: records and images written the way
the storage service and the detector write them, read through the gateway."""

import io
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from minio import Minio
from PIL import Image
from pymongo.database import Database

from tests.gateway.test_auth import ROUTES
from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway
from vidar import archive
from vidar.devstack.servers import HOST, Ports
from vidar.documents import ClusterRecord, DetectionRecord, ObjectCounts
from vidar.models.attributes import Features
from vidar.models.jobs import DetectionPosted
from vidar_gateway.auth import Role, digest
from vidar_gateway.clusters.store import INDEXES as CLUSTER_INDEXES
from vidar_gateway.events.store import INDEXES as EVENT_INDEXES
from vidar_gateway.pagination import Cursor

Client = httpx.Client
EVENT_FIELDS = {
    "id",
    "video_archive",
    "camera_group",
    "track",
    "post",
    "bbox",
    "frame",
    "created_date",
    "stream_time",
    "timestamp",
    "quality",
    "features",
    "matched",
    "matched_card",
    "matched_lists",
    "matched_object",
    "confidence",
    "acknowledged",
    "acknowledged_by",
    "acknowledged_date",
    "cluster",
    "thumbnail",
    "full_frame",
}
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def s3(stack: Ports) -> Minio:
    return Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)


def image_bytes(size: tuple[int, int], image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format=image_format)
    return buffer.getvalue()


def put(s3: Minio, key: str, data: bytes, content_type: str) -> None:
    s3.put_object(
        bucket_name="vidar", object_name=key, data=io.BytesIO(data), length=len(data), content_type=content_type
    )


class Archive:
    """A video archive with detection records and images, as a processed run leaves them."""

    def __init__(self, api: Client, db: Database, s3: Minio, camera_group: int) -> None:
        response = api.post("/videos/", json={"camera_group": camera_group, "name": "events"})
        assert response.status_code == 201, response.text
        self.id: int = response.json()["id"]
        self.camera_group = camera_group
        self.run_id = uuid.uuid4().hex
        self._db, self._s3 = db, s3
        self._posted = 0

    def event(
        self,
        *,
        kind: str = "face",
        track: str = "1-1",
        quality: float = 0.5,
        created: datetime = START,
        timestamp: float | None = None,
        cluster: int | None = None,
        thumbnail_size: tuple[int, int] = (40, 48),
        png_frame: bool = False,
        features: Features | None = None,
    ) -> str:
        self._posted += 1
        name = f"{kind}-{track}-best-{self._posted}"
        extension, frame_type = ("png", "PNG") if png_frame else ("jpg", "JPEG")
        thumbnail_key = archive.detection_images(self.id, self.run_id, f"{name}.jpg")
        frame_key = archive.detection_images(self.id, self.run_id, f"{name}-frame.{extension}")
        put(self._s3, thumbnail_key, image_bytes(thumbnail_size, "JPEG"), "image/jpeg")
        put(self._s3, frame_key, image_bytes((176, 144), frame_type), f"image/{frame_type.lower()}")
        posted = DetectionPosted(
            video_id=self.id,
            camera_group=self.camera_group,
            run_id=self.run_id,
            kind=kind,
            track_id=track,
            post="best",
            sequence=self._posted,
            bbox=(10.0, 12.0, 50.0, 60.0),
            frame=self._posted,
            stream_time=self._posted / 25,
            timestamp=self._posted if timestamp is None else timestamp,
            quality=quality,
            features=features,
            thumbnail_key=thumbnail_key,
            full_frame_key=frame_key,
            history=[(0.0, 10.0, 12.0, 50.0, 60.0)],
            embedding=[0.25] * 128,
        )
        record = DetectionRecord(**posted.model_dump(), created_date=created, cluster=cluster)
        self._db[archive.DETECTIONS].insert_one(record.document())
        # Counted on the archive as storage counts each record (ObjectCounts): the events count reads it.
        self._db[archive.VIDEOS].update_one({"_id": self.id}, {"$inc": ObjectCounts.one_more(kind)})
        return posted.event_id

    def cluster(self, number: int, members: list[str], best_event: str, kind: str = "face") -> str:
        record = ClusterRecord(
            video_id=self.id,
            run_id=self.run_id,
            kind=kind,
            cluster=number,
            size=len(members),
            members=members,
            best_event=best_event,
            first_timestamp=100.0 + number,
            last_timestamp=200.0 + number,
        )
        self._db[archive.CLUSTERS].insert_one(record.document())
        return record.id


@pytest.fixture
def new_archive(api: Client, db: Database, s3: Minio, camera_group: int) -> Callable[[], Archive]:
    return lambda: Archive(api, db, s3, camera_group)


def listed(api: Client, path: str = "/events/faces/", **params: object) -> list[str]:
    response = api.get(path, params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["results"]]


def count(api: Client, path: str = "/events/faces/count/", **params: object) -> int:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def test_an_event_has_every_field_and_absolute_image_urls(
    api: Client, gw: Gateway, new_archive: Callable[[], Archive]
) -> None:
    video = new_archive()
    event_id = video.event(track="2-7", quality=0.875, timestamp=1700000000.5)
    (row,) = api.get("/events/faces/", params={"video_archive": video.id}).json()["results"]
    assert set(row) == EVENT_FIELDS, "no embedding, no history"
    assert row == api.get(f"/events/faces/{event_id}/").json()
    assert (row["video_archive"], row["camera_group"], row["track"], row["post"]) == (
        video.id,
        video.camera_group,
        "2-7",
        "best",
    )
    assert (row["bbox"], row["quality"], row["timestamp"], row["cluster"]) == (
        [10.0, 12.0, 50.0, 60.0],
        0.875,
        1700000000.5,
        None,
    )
    assert datetime.fromisoformat(row["created_date"]) == START
    assert row["thumbnail"] == f"{gw.url}/events/faces/{event_id}/thumbnail/"
    assert row["full_frame"] == f"{gw.url}/events/faces/{event_id}/full_frame/"


def test_each_filter(api: Client, new_archive: Callable[[], Archive], camera_group: int) -> None:
    video, other = new_archive(), new_archive()
    first = video.event(track="1-1", quality=0.9, created=START, cluster=1)
    second = video.event(track="1-1", quality=0.4, created=START + timedelta(hours=1), cluster=1)
    third = video.event(track="1-2", quality=0.7, created=START + timedelta(days=1), cluster=2)
    elsewhere = other.event(track="1-1", quality=0.95, created=START)
    body = video.event(kind="body", track="1-1")
    mine = {"video_archive": video.id}
    assert sorted(listed(api, **mine)) == sorted([first, second, third])
    assert body in listed(api, "/events/bodies/", **mine)
    assert sorted(listed(api, camera_groups=camera_group)) == sorted([first, second, third, elsewhere])
    empty_group = api.post("/camera-groups/", json={"name": "no events"}).json()["id"]
    both = sorted([first, second, third, elsewhere])
    assert sorted(listed(api, camera_groups=f"{camera_group},{empty_group}")) == both
    assert sorted(listed(api, camera_groups=[camera_group, empty_group])) == both
    assert sorted(listed(api, **mine, track="1-1")) == sorted([first, second])
    assert listed(api, **mine, cluster=2) == [third]
    assert sorted(listed(api, **mine, quality_gte=0.7)) == sorted([first, third])
    assert sorted(listed(api, id_in=f"{first},{elsewhere}")) == sorted([first, elsewhere])
    assert sorted(listed(api, id_in=[third, body])) == [third], "a body is not a face"
    an_hour_later = (START + timedelta(hours=1)).isoformat()
    assert listed(api, **mine, created_date_gte=START.isoformat(), created_date_lt=an_hour_later) == [first]
    assert listed(api, **mine, created_date_gt=START.isoformat(), created_date_lte=an_hour_later) == [second]
    assert listed(api, **mine, created_date_gte="2026-03-03T00:00:00") == [third], "no offset: VIDAR_TIMEZONE"
    for params, expected in (
        ({}, 3),
        ({"track": "1-1"}, 2),
        ({"quality_gte": 0.7}, 2),
        ({"created_date_lt": "2026-03-03T00:00:00Z"}, 2),
    ):
        assert count(api, **mine, **params) == expected


def test_relative_date_filters_mean_what_they_mean_for_videos(api: Client, new_archive: Callable[[], Archive]) -> None:
    now = datetime.now(UTC)
    monday = datetime.combine(now.date() - timedelta(days=now.weekday()), datetime.min.time(), tzinfo=UTC)
    video = new_archive()
    this_week = video.event(created=monday)
    last_week = video.event(created=monday - timedelta(milliseconds=1))
    last_saturday = video.event(created=monday - timedelta(days=2))
    old = video.event(created=monday - timedelta(days=30))
    mine = {"video_archive": video.id}
    assert listed(api, **mine, created_date_nth_full_week=1) == [this_week]
    assert sorted(listed(api, **mine, created_date_nth_full_week=2)) == sorted([last_week, last_saturday])
    assert listed(api, **mine, created_date_nth_work_week=2) == []
    assert old not in listed(api, **mine, created_date_last_n_days=29)
    assert this_week in listed(api, **mine, created_date_last_n_days=8)


def test_each_ordering_breaks_ties_by_id(api: Client, new_archive: Callable[[], Archive]) -> None:
    video = new_archive()
    ids = [
        video.event(quality=quality, created=START + timedelta(minutes=minutes), timestamp=stamp)
        for quality, minutes, stamp in ((0.5, 3, 30.0), (0.9, 1, 10.0), (0.5, 2, 20.0), (0.1, 2, 5.0))
    ]
    by = {
        order: listed(api, video_archive=video.id, ordering=order)
        for order in ("created_date", "-created_date", "quality", "-quality", "timestamp", "-timestamp")
    }
    tied_created = sorted([ids[2], ids[3]])
    assert by["created_date"] == [ids[1], *tied_created, ids[0]]
    assert by["-created_date"] == by["created_date"][::-1]
    assert listed(api, video_archive=video.id) == by["-created_date"], "newest first by default"
    assert by["quality"] == [ids[3], *sorted([ids[0], ids[2]]), ids[1]]
    assert by["-quality"] == by["quality"][::-1]
    assert by["timestamp"] == [ids[3], ids[1], ids[2], ids[0]]
    assert by["-timestamp"] == by["timestamp"][::-1]


@pytest.mark.parametrize("ordering", ["-created_date", "quality"])
def test_pages_survive_inserts_in_both_directions(
    api: Client, new_archive: Callable[[], Archive], ordering: str
) -> None:
    video = new_archive()
    initial = [
        video.event(quality=(index % 7) / 10, created=START + timedelta(seconds=index % 5)) for index in range(23)
    ]
    params = {"video_archive": video.id, "limit": 4, "ordering": ordering}
    inserted: list[str] = []
    forward: list[str] = []
    body = api.get("/events/faces/", params=params).json()
    while True:
        forward += [row["id"] for row in body["results"]]
        inserted.append(video.event(quality=0.35, created=START + timedelta(seconds=2)))
        if body["next_page"] is None:
            break
        body = api.get("/events/faces/", params={**params, "page": body["next_page"]}).json()
    assert len(forward) == len(set(forward)), "no event repeated"
    assert set(initial) <= set(forward), "no event lost"
    assert set(forward) <= set(initial) | set(inserted)

    backward: list[str] = [row["id"] for row in body["results"]][::-1]
    while body["prev_page"] is not None:
        body = api.get("/events/faces/", params={**params, "page": body["prev_page"]}).json()
        backward += [row["id"] for row in body["results"]][::-1]
    assert len(backward) == len(set(backward))
    final = listed(api, video_archive=video.id, ordering=ordering)
    assert backward[::-1] == final, "walking back sees every event, the inserted ones included"


def test_unknown_ids_and_other_kinds_are_404(api: Client, new_archive: Callable[[], Archive]) -> None:
    video = new_archive()
    body = video.event(kind="body")
    for path in (
        f"/events/faces/{body}/",
        f"/events/faces/{body}/thumbnail/",
        "/events/cars/detection-0-x/",
        "/events/bodies/detection-0-x/full_frame/",
        "/clusters/faces/0-face-1/",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert (response.json()["code"], response.json()["param"]) == ("NOT_FOUND", "id")
    assert api.get(f"/events/bodies/{body}/").status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/events/faces/", {"quality_gte": "high"}, "quality_gte"),
        ("/events/faces/", {"quality_gte": "1.5"}, "quality_gte"),
        ("/events/faces/", {"cluster": "x"}, "cluster"),
        ("/events/faces/", {"video_archive": "0"}, "video_archive"),
        ("/events/faces/", {"camera_groups": "1,x"}, "camera_groups.1"),
        ("/events/faces/", {"created_date_gte": "yesterday"}, "created_date_gte"),
        ("/events/faces/", {"created_date_nth_work_week": "0"}, "created_date_nth_work_week"),
        ("/events/faces/", {"ordering": "name"}, "ordering"),
        ("/events/faces/", {"limit": "1001"}, "limit"),
        ("/events/faces/", {"page": "garbage"}, "page"),
        ("/events/faces/count/", {"colour": "red"}, "colour"),
        ("/events/dogs/", {}, "object_type"),
        ("/clusters/faces/", {"ordering": "quality"}, "ordering"),
        ("/clusters/faces/", {"video_archive": "x"}, "video_archive"),
        ("/clusters/cars/count/", {"size_gte": "0"}, "size_gte"),
    ],
)
def test_bad_values_are_400_naming_the_field(api: Client, path: str, params: dict, param: str) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["param"]) == ("BAD_PARAM", param)


def test_a_cursor_belongs_to_its_ordering(api: Client, new_archive: Callable[[], Archive]) -> None:
    video = new_archive()
    for _ in range(2):
        video.event()
    params = {"video_archive": video.id, "limit": 1}
    page = api.get("/events/faces/", params={**params, "ordering": "quality"}).json()["next_page"]
    response = api.get("/events/faces/", params={**params, "ordering": "timestamp", "page": page})
    assert (response.status_code, response.json()["param"]) == (400, "page")


@pytest.mark.parametrize("key", [(2**70, "detection-1"), (0.5, 2**64), (0.5, True), (0.5, None)])
def test_a_forged_cursor_is_a_400(api: Client, key: tuple) -> None:
    forged = Cursor("quality", "next", *key).encode()
    response = api.get("/events/faces/", params={"ordering": "quality", "page": forged})
    assert (response.status_code, response.json()["param"]) == (400, "page")


def test_thumbnail_is_the_stored_jpeg_with_caching_headers(api: Client, new_archive: Callable[[], Archive]) -> None:
    event_id = new_archive().event(thumbnail_size=(64, 80))
    response = api.get(f"/events/faces/{event_id}/thumbnail/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("JPEG", (64, 80))
    assert response.headers["cache-control"].startswith("private, max-age=")
    etag = response.headers["etag"]
    again = api.get(f"/events/faces/{event_id}/thumbnail/", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    frame_etag = api.get(f"/events/faces/{event_id}/full_frame/").headers["etag"]
    assert frame_etag != etag, "each image has its own ETag"


@pytest.mark.parametrize(
    "foreign",
    [
        lambda own, other: archive.screenshot_key(other.id),
        lambda own, other: archive.detection_images(other.id, other.run_id, "face-1-1-best-1.jpg"),
        lambda own, other: f"{archive.detections_prefix(own.id)}../../{other.id}/screenshot.jpg",
        lambda own, other: archive.detect_upload_key(),
    ],
    ids=["another archive's screenshot", "another archive's thumbnail", "a key with ..", "an upload to /detect/"],
)
def test_an_image_key_outside_the_events_archive_is_not_served(
    api: Client, db: Database, new_archive: Callable[[], Archive], foreign: Callable[[Archive, Archive], str]
) -> None:
    """The detection record is stored data: a key pointing elsewhere (issue 24) reads nothing."""
    own, other = new_archive(), new_archive()
    other.event()
    event_id = own.event()
    key = foreign(own, other)
    db[archive.DETECTIONS].update_one({"_id": event_id}, {"$set": {"thumbnail_key": key, "full_frame_key": key}})
    for image in ("thumbnail", "full_frame"):
        response = api.get(f"/events/faces/{event_id}/{image}/")
        assert (response.status_code, response.json()["param"]) == (404, "id"), key


@pytest.mark.parametrize(
    ("png", "media_type", "image_format"), [(False, "image/jpeg", "JPEG"), (True, "image/png", "PNG")]
)
def test_full_frame_type_follows_its_key(
    api: Client, new_archive: Callable[[], Archive], png: bool, media_type: str, image_format: str
) -> None:
    event_id = new_archive().event(png_frame=png)
    response = api.get(f"/events/faces/{event_id}/full_frame/")
    assert (response.status_code, response.headers["content-type"]) == (200, media_type)
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == (image_format, (176, 144))


@pytest.fixture
def viewer(gw: Gateway, db: Database) -> Iterator[Client]:
    token = uuid.uuid4().hex
    stored = {"_id": digest(token), "role": Role.VIEWER.value, "name": "events", "created_date": datetime.now(UTC)}
    db.tokens.insert_one(stored)
    with gw.client(token) as client:
        yield client


def test_a_viewer_reads_and_no_token_is_401(gw: Gateway, viewer: Client, new_archive: Callable[[], Archive]) -> None:
    video = new_archive()
    event_id = video.event()
    cluster_id = video.cluster(1, [event_id], event_id)
    paths = [
        f"/events/faces/?video_archive={video.id}",
        "/events/faces/count/",
        f"/events/faces/{event_id}/",
        f"/events/faces/{event_id}/thumbnail/",
        f"/events/faces/{event_id}/full_frame/",
        f"/clusters/faces/?video_archive={video.id}",
        f"/clusters/faces/{cluster_id}/",
    ]
    for path in paths:
        assert viewer.get(path).status_code == 200, path
        assert httpx.get(gw.url + path).status_code == 401, path


def test_clusters_list_with_their_best_event(api: Client, gw: Gateway, new_archive: Callable[[], Archive]) -> None:
    video = new_archive()
    small = [video.event(quality=0.3, cluster=1)]
    big = [video.event(quality=quality, cluster=2) for quality in (0.2, 0.8, 0.6)]
    gone = video.event(cluster=3)
    ids = [video.cluster(1, small, small[0]), video.cluster(2, big, big[1]), video.cluster(3, [gone], "deleted-event")]
    video.cluster(1, [video.event(kind="body")], "body-best", kind="body")
    mine = {"video_archive": video.id}

    listed_clusters = api.get("/clusters/faces/", params=mine).json()["results"]
    assert [row["id"] for row in listed_clusters] == ids, "by cluster number by default"
    second = listed_clusters[1]
    assert {key: second[key] for key in ("cluster", "video_archive", "size", "first_timestamp", "last_timestamp")} == {
        "cluster": 2,
        "video_archive": video.id,
        "size": 3,
        "first_timestamp": 102.0,
        "last_timestamp": 202.0,
    }
    assert second["best_event"]["id"] == big[1]
    assert second["best_event"]["thumbnail"] == f"{gw.url}/events/faces/{big[1]}/thumbnail/"
    assert listed_clusters[2]["best_event"] is None, "a best event a new run replaced"
    assert "members" not in second
    assert api.get(f"/clusters/faces/{ids[1]}/").json() == second
    assert sorted(listed(api, **mine, cluster=2)) == sorted(big), "a cluster's events"

    assert listed(api, "/clusters/faces/", **mine, ordering="-size")[0] == ids[1]
    assert listed(api, "/clusters/faces/", **mine, size_gte=2) == [ids[1]]
    assert count(api, "/clusters/faces/count/", **mine) == 3
    assert count(api, "/clusters/bodies/count/", **mine) == 1
    first_page = api.get("/clusters/faces/", params={**mine, "limit": 2}).json()
    rest = api.get("/clusters/faces/", params={**mine, "limit": 2, "page": first_page["next_page"]}).json()
    assert [row["id"] for row in first_page["results"] + rest["results"]] == ids
    assert rest["next_page"] is None


def test_each_ordering_and_filter_has_an_index(api: Client, db: Database) -> None:
    api.get("/events/faces/")  # the gateway is up, so its indexes exist
    for collection, indexes in ((archive.DETECTIONS, EVENT_INDEXES), (archive.CLUSTERS, CLUSTER_INDEXES)):
        keys = [list(index["key"].items()) for index in db[collection].list_indexes()]
        for index in indexes:
            assert [(field, 1) for field, _ in index] in keys
    event_keys = {field for index in EVENT_INDEXES for field, _ in index}
    assert {"created_date", "quality", "timestamp", "video_id", "camera_group", "track_id", "cluster"} <= event_keys


def test_routes_are_documented_and_in_the_auth_matrix(api: Client) -> None:
    spec = api.get("/openapi.json").json()
    pages = {
        "/events/{object_type}/": "DetectionEventPage",
        "/events/{object_type}/{event_id}/": "DetectionEvent",
        "/clusters/{object_type}/": "DetectionClusterPage",
        "/clusters/{object_type}/{cluster_id}/": "DetectionCluster",
    }
    # With looks_like, a list's rows carry looks_like_confidence (vidar_gateway.search).
    similar = {"DetectionEventPage": "SimilarEventPage", "DetectionClusterPage": "SimilarClusterPage"}
    for path, model in pages.items():
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        refs = [{"$ref": f"#/components/schemas/{name}"} for name in (model, similar.get(model)) if name]
        assert schema == (refs[0] if len(refs) == 1 else {"anyOf": refs, "title": schema.get("title")})
    frame = spec["paths"]["/events/{object_type}/{event_id}/full_frame/"]["get"]["responses"]["200"]["content"]
    assert set(frame) == {"image/jpeg", "image/png"}
    assert {path for _, path in ROUTES} >= {*pages, "/events/{object_type}/{event_id}/thumbnail/"}


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_processed_video_lists_face_count_events_with_jpeg_thumbnails(api: Client, videos: Path) -> None:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", detectors={"face": {"filter_min_size": 30}})
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", timeout=120)
    posted = done["health_status"]["statistic"]["objects"]["face"]["posted"]
    assert posted >= 1, "carphone has a face"
    eventually(lambda: api.get(f"/videos/{video_id}/").json()["face_count"] == posted, what="face_count")
    assert count(api, video_archive=video_id) == posted
    events = api.get("/events/faces/", params={"video_archive": video_id}).json()["results"]
    assert len(events) == posted
    thumbnail = api.get(events[0]["thumbnail"])
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(thumbnail.content)).format == "JPEG"
