"""Archives created at once: the gateway writes the creates that wait together in one transaction
(vidar.batching), and each request still gets its own archive, or its own refusal."""

import asyncio

import httpx
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway

BURST = 60
IN_FLIGHT = 16
NO_SUCH_GROUP = 999_999


async def post_all(gw: Gateway, bodies: list[dict]) -> list[httpx.Response]:
    headers = {"Authorization": f"Token {gw.admin_token}"}
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=gw.url, headers=headers, limits=limits, timeout=60) as client:
        return await asyncio.gather(*(client.post("/videos/", json=body) for body in bodies))


def test_a_burst_of_creates_gives_each_request_its_own_archive(
    gw: Gateway, api: httpx.Client, camera_group: int, db: Database
) -> None:
    # Every fifth asks for a camera group that does not exist: refused alone, amid the others.
    bodies = [
        {"camera_group": NO_SUCH_GROUP if n % 5 == 0 else camera_group, "name": f"burst {n}", "case": n % 3 or None}
        for n in range(BURST)
    ]
    responses = asyncio.run(post_all(gw, bodies))

    for body, response in zip(bodies, responses, strict=True):
        if body["camera_group"] == NO_SUCH_GROUP:
            assert response.status_code == 400, response.text
            assert response.json()["param"] == "camera_group"
        else:
            assert response.status_code == 201, response.text
            assert response.json()["name"] == body["name"]
            assert response.json()["case"] == body["case"]
    created = [response.json() for response in responses if response.status_code == 201]
    ids = [video["id"] for video in created]
    assert len(set(ids)) == len(ids) == BURST * 4 // 5
    for video in created:
        # The scheduler may have synced it since (WAITING_FOR_SYNC -> NOT_STARTED): the rest is as created.
        stored = api.get(f"/videos/{video['id']}/").json()
        assert {**stored, "health_status": None} == {**video, "health_status": None}

    listed = api.get("/videos/", params={"camera_groups": camera_group, "limit": 100}).json()["results"]
    assert sorted(video["id"] for video in listed) == sorted(ids)
    assert api.get("/videos/count/", params={"camera_groups": camera_group}).json()["count"] == len(ids)
    for case in (1, 2):
        in_case = sum(video["case"] == case for video in created)
        counted = api.get("/videos/count/", params={"camera_groups": camera_group, "case_in": case}).json()
        assert counted["count"] == in_case
    # Every video.created event was published: none is left in the outbox.
    eventually(lambda: db["outbox"].find_one({"subject": "video.created"}) is None, what="the events published")
