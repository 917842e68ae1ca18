"""Acknowledgement on the real stack (issue 27, part 5): a match with a record on a list that asks
for acknowledgement leaves its event `acknowledged: false` until an operator or an admin
acknowledges it; the storage service records who and when, and `?acknowledged=` finds them."""

import asyncio
from collections.abc import Iterator

import httpx
import nats
import pytest
from minio import Minio
from pymongo.database import Database

from tests.gateway.test_matching import Scene, a_person, seen_again
from tests.gateway.test_watch_lists import client_of, new_watch_list
from tests.polling import eventually
from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway
from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.devstack.servers import HOST, Ports
from vidar.models.events import Envelope, MatchAcknowledged
from vidar_gateway.auth import Role


@pytest.fixture
def matching(gw: Gateway, api: httpx.Client, db: Database, stack: Ports, camera_group: int, storage: object) -> Scene:
    s3 = Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    return Scene(gw, api, db, s3, camera_group)


@pytest.fixture
def viewer(gw: Gateway, db: Database) -> Iterator[httpx.Client]:
    with client_of(gw, db, Role.VIEWER) as client:
        yield client


@pytest.fixture
def operator(gw: Gateway, db: Database) -> Iterator[httpx.Client]:
    with client_of(gw, db, Role.OPERATOR) as client:
        yield client


def matched_on(scene: Scene, acknowledge: bool) -> tuple[int, str]:
    """An archive and its event matched with a record on a new list that asks for acknowledgement or not."""
    person = a_person()
    watch_list = new_watch_list(scene.api, name="acknowledged", acknowledge=acknowledge)["id"]
    scene.record(person, [watch_list])
    video_id, run_id = scene.archive()
    [event_id] = scene.post(video_id, run_id, [seen_again(person)])
    scene.matched(event_id)
    return video_id, event_id


def ids(api: httpx.Client, query: str) -> list[str]:
    return [event["id"] for event in api.get(f"/events/faces/?{query}").json()["results"]]


def test_a_match_waits_for_an_operator_to_acknowledge_it(
    matching: Scene, viewer: httpx.Client, operator: httpx.Client
) -> None:
    api = matching.api
    video_id, event_id = matched_on(matching, acknowledge=True)
    waiting = eventually(
        lambda: api.get(f"/events/faces/{event_id}/").json()["acknowledged"] is False,
        what="the match waiting for an acknowledgement",
    )
    assert waiting
    assert ids(api, f"video_archive={video_id}&acknowledged=false") == [event_id]
    assert ids(api, f"video_archive={video_id}&acknowledged=true") == []

    assert viewer.post(f"/events/faces/{event_id}/acknowledge/").status_code == 403
    response = operator.post(f"/events/faces/{event_id}/acknowledge/")
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["acknowledged"] is True
    assert shown["acknowledged_by"] == "records operator"
    assert shown["acknowledged_date"] is not None
    assert api.get(f"/events/faces/{event_id}/").json() == shown
    assert ids(api, f"video_archive={video_id}&acknowledged=false") == []
    assert ids(api, f"video_archive={video_id}&acknowledged=true") == [event_id]

    # Again, by an admin: the first acknowledgement is kept.
    again = api.post(f"/events/faces/{event_id}/acknowledge/")
    assert again.status_code == 200, again.text
    assert again.json() == shown

    # Outside consumers learn it once, from the bus.
    announced = asyncio.run(acknowledgements_on_the_bus(matching.gw.env["VIDAR_NATS_URL"], event_id))
    assert [(event.type, event.version, event.payload.acknowledged_by) for event in announced] == [
        (subjects.acknowledgement("face"), 1, "records operator")
    ]


async def acknowledgements_on_the_bus(nats_url: str, event_id: str) -> list[Envelope[MatchAcknowledged]]:
    """Every acknowledgement of the event that the stream holds, repeats included: read until none
    comes for a while (published before the answer, they are all in the stream by now)."""
    connection = await nats.connect(nats_url)
    try:
        subscription = await connection.jetstream().subscribe(
            subjects.ACKNOWLEDGEMENTS, stream=EVENTS_STREAM.name, ordered_consumer=True
        )
        found = []
        while True:
            try:
                message = await subscription.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                return found
            event = Envelope[MatchAcknowledged].model_validate_json(message.data)
            if event.payload.event_id == event_id:
                found.append(event)
    finally:
        await connection.close()


def test_a_match_its_list_does_not_ask_about_is_not_acknowledged(matching: Scene) -> None:
    _, event_id = matched_on(matching, acknowledge=False)
    assert matching.api.get(f"/events/faces/{event_id}/").json()["acknowledged"] is None
    response = matching.api.post(f"/events/faces/{event_id}/acknowledge/")
    assert response.status_code == 409, response.text
    assert matching.api.post("/events/faces/no-such-event/acknowledge/").status_code == 404
