"""The alerts (`/alerts/`) and a record's appearances (`/cards/<type>/<id>/appearances/`) on the real
stack: matched events of every kind, newest first, in pages with the lists' cursors."""

from collections.abc import Callable

import httpx
import pytest
from minio import Minio
from pymongo.database import Database

from tests.gateway.test_matching import Scene, a_person, seen_again
from tests.gateway.test_watch_lists import new_watch_list
from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway
from vidar.devstack.servers import HOST, Ports


@pytest.fixture
def matching(gw: Gateway, api: httpx.Client, db: Database, stack: Ports, camera_group: int, storage: object) -> Scene:
    s3 = Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    return Scene(gw, api, db, s3, camera_group)


def pages(api: httpx.Client, path: str, limit: int, enough: Callable[[set[str]], bool] = lambda _: False) -> list[dict]:
    """The rows of a list's pages, walked by next_page to the last or until the ids read are
    `enough`; each page's prev_page leads back to the page before."""
    walked: list[dict] = []
    response = api.get(path, params={"limit": limit})
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["results"]) <= limit
        if walked:
            back = api.get(path, params={"limit": limit, "page": page["prev_page"]}).json()
            assert back["results"] == walked[-1]["results"]
        walked.append(page)
        rows = [row for one in walked for row in one["results"]]
        if page["next_page"] is None or enough({row["id"] for row in rows}):
            return rows
        response = api.get(path, params={"limit": limit, "page": page["next_page"]})


def test_a_record_s_appearances_and_the_alerts_are_paged_newest_first(matching: Scene) -> None:
    api, db = matching.api, matching.db
    person = a_person()
    card, _ = matching.record(person, [new_watch_list(api, name="paged")["id"]])
    video_id, run_id = matching.archive()
    event_ids = matching.post(video_id, run_id, [seen_again(person) for _ in range(5)])
    for event_id in event_ids:
        matching.matched(event_id)
    newest_first = [
        doc["_id"]
        for doc in db.detections.find({"matched_card": card, "kind": "face"}).sort([("created_date", -1), ("_id", -1)])
    ]
    assert set(event_ids) <= set(newest_first)

    appearances = pages(api, f"/cards/humans/{card}/appearances/", limit=2)
    assert [row["id"] for row in appearances] == newest_first
    assert {(row["object_type"], row["matched_card"]) for row in appearances} == {("faces", card)}

    # The newest alerts: these events' and any that other tests matched before.
    alerts = pages(api, "/alerts/", limit=3, enough=lambda ids: set(event_ids) <= ids)
    assert set(event_ids) <= {row["id"] for row in alerts}
    assert all(row["matched"] for row in alerts)
    created = [row["created_date"] for row in alerts]
    assert created == sorted(created, reverse=True)


def test_appearances_of_an_unknown_record_are_a_404_and_unknown_parameters_a_400(api: httpx.Client) -> None:
    response = api.get("/cards/cars/999999999/appearances/")
    assert (response.status_code, response.json()["param"]) == (404, "id")
    response = api.get("/alerts/", params={"ordering": "quality"})
    assert (response.status_code, response.json()["param"]) == (400, "ordering")
