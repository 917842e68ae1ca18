"""/webhooks/ on the real stack (issue 27, part 5): CRUD, who may write, the SSRF guard, and the
delivery of matches to local HTTP receivers: filtered, signed, tried again and recorded when they
run out of tries. Matches are published on `match.<kind>` as the gateway's matching publishes them."""

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from pymongo.database import Database

from tests.gateway.test_matching import publish_match
from tests.gateway.test_watch_lists import client_of, new_watch_list
from tests.polling import eventually
from tests.stack import Gateway
from vidar.models.matches import DetectionMatched
from vidar.models.stream_settings import DetectorType
from vidar_gateway.auth import Role

SECRET = "a-secret-of-the-receiver"
# A link-local address (cloud metadata): the guard refuses it, as the allow-list holds only 127.0.0.1.
METADATA_URL = "http://169.254.169.254/latest/"
# Allowed, and nothing listens there: for the webhooks that receive nothing.
NOWHERE = "http://127.0.0.1:9/alerts"


@dataclass
class Receiver:
    url: str = ""
    # Each accepted request: its headers and its raw body.
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    requests: int = 0
    # Answers to give, first to last (then 200).
    failures: list[int] = field(default_factory=list)


@contextmanager
def receiver(failures: list[int] | None = None) -> Iterator[Receiver]:
    state = Receiver(failures=failures or [])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state.requests += 1
                status = state.failures.pop(0) if state.failures else 200
                if status == 200:
                    state.received.append((dict(self.headers), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def viewer(gw: Gateway, db: Database) -> Iterator[httpx.Client]:
    with client_of(gw, db, Role.VIEWER) as client:
        yield client


@pytest.fixture
def operator(gw: Gateway, db: Database) -> Iterator[httpx.Client]:
    with client_of(gw, db, Role.OPERATOR) as client:
        yield client


def new_webhook(api: httpx.Client, url: str, **fields: object) -> dict:
    response = api.post("/webhooks/", json={"name": "control room", "url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def a_match(kind: DetectorType, watch_list: int) -> DetectionMatched:
    return DetectionMatched(
        event_id=f"detection-1-{uuid.uuid4().hex}-{kind}-0-best-0",
        video_id=1,
        run_id=uuid.uuid4().hex,
        camera_group=1,
        kind=kind,
        matched_card=7,
        matched_object="12",
        matched_lists=[watch_list],
        confidence=0.9,
    )


def publish(gw: Gateway, *matches: DetectionMatched) -> None:
    for match in matches:
        asyncio.run(publish_match(gw, match))


def test_a_webhook_is_created_read_changed_and_deleted_and_its_secret_shown_once(api: httpx.Client) -> None:
    watch_list = new_watch_list(api)["id"]
    created = new_webhook(api, NOWHERE, watch_lists=[watch_list], kinds=["face"])
    assert len(created["secret"]) == 64
    assert created["active"] is True
    assert created["last_error"] is None

    read = api.get(f"/webhooks/{created['id']}/").json()
    assert "secret" not in read
    assert read == {key: value for key, value in created.items() if key != "secret"}
    assert created["id"] in [
        webhook["id"] for webhook in api.get("/webhooks/", params={"limit": 1000}).json()["results"]
    ]
    assert api.get("/webhooks/count/").json()["count"] >= 1

    patched = api.patch(f"/webhooks/{created['id']}/", json={"active": False, "kinds": [], "secret": SECRET})
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False
    assert patched.json()["kinds"] == []
    assert "secret" not in patched.json()

    assert api.delete(f"/webhooks/{created['id']}/").status_code == 204
    assert api.get(f"/webhooks/{created['id']}/").status_code == 404


def test_viewers_read_only_admins_write(api: httpx.Client, viewer: httpx.Client, operator: httpx.Client) -> None:
    webhook = new_webhook(api, NOWHERE)
    assert viewer.get(f"/webhooks/{webhook['id']}/").status_code == 200
    for client in (viewer, operator):
        assert client.post("/webhooks/", json={"name": "x", "url": NOWHERE}).status_code == 403
        assert client.patch(f"/webhooks/{webhook['id']}/", json={"active": False}).status_code == 403
        assert client.delete(f"/webhooks/{webhook['id']}/").status_code == 403
    api.delete(f"/webhooks/{webhook['id']}/")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": METADATA_URL}, "url"),
        ({"url": "http://10.0.0.1/alerts"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": NOWHERE, "watch_lists": [987654321]}, "watch_lists"),
        ({"url": NOWHERE, "kinds": ["cat"]}, "kinds.0"),
        ({"url": NOWHERE, "secret": "short"}, "secret"),
    ],
)
def test_a_refused_url_or_bad_input_is_a_400_naming_the_field(api: httpx.Client, body: dict, param: str) -> None:
    response = api.post("/webhooks/", json={"name": "x", **body})
    assert response.status_code == 400, response.text
    assert response.json()["param"] == param


def test_a_patch_to_a_refused_url_is_a_400(api: httpx.Client) -> None:
    webhook = new_webhook(api, NOWHERE)
    response = api.patch(f"/webhooks/{webhook['id']}/", json={"url": METADATA_URL})
    assert response.status_code == 400
    assert response.json()["param"] == "url"
    api.delete(f"/webhooks/{webhook['id']}/")


def test_a_match_is_delivered_signed_to_the_webhooks_whose_filters_it_passes(gw: Gateway, api: httpx.Client) -> None:
    watch_list = new_watch_list(api)["id"]
    with receiver() as faces, receiver() as cars, receiver() as other_lists:
        face_hook = new_webhook(api, faces.url, watch_lists=[watch_list], kinds=["face"], secret=SECRET)
        new_webhook(api, cars.url, watch_lists=[watch_list], kinds=["car"])
        new_webhook(api, other_lists.url, watch_lists=[new_watch_list(api)["id"]])
        face, car = a_match("face", watch_list), a_match("car", watch_list)
        publish(gw, face, car)

        eventually(lambda: faces.received and cars.received, what="both matches delivered")
        headers, body = faces.received[0]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Vidar-Signature"], expected)
        delivered = json.loads(body)
        assert delivered["webhook"] == face_hook["id"]
        assert delivered["match"] == face.model_dump(mode="json")
        assert delivered["event_url"].endswith(f"/events/faces/{face.event_id}/")
        assert json.loads(cars.received[0][1])["match"]["event_id"] == car.event_id
        assert eventually(lambda: api.get(f"/webhooks/{face_hook['id']}/").json()["last_delivered_date"])
    assert faces.requests == cars.requests == 1
    assert other_lists.requests == 0


def test_a_failing_receiver_is_tried_again_then_the_failure_recorded(gw: Gateway, api: httpx.Client) -> None:
    watch_list = new_watch_list(api)["id"]
    # 5 tries in all (webhook_attempts): the flaky one succeeds at the third, the broken one never.
    with receiver(failures=[503, 503]) as flaky, receiver(failures=[500] * 5) as broken:
        flaky_hook = new_webhook(api, flaky.url, watch_lists=[watch_list])
        broken_hook = new_webhook(api, broken.url, watch_lists=[watch_list])
        publish(gw, a_match("face", watch_list))

        failed = eventually(
            lambda: api.get(f"/webhooks/{broken_hook['id']}/").json()["last_error_date"] and broken_hook,
            what="the broken receiver's failure recorded",
        )
        assert failed
        assert "answered 500" in api.get(f"/webhooks/{broken_hook['id']}/").json()["last_error"]
        assert broken.requests == 5
        eventually(lambda: flaky.received, what="the flaky receiver's delivery")
        assert flaky.requests == 3
        assert api.get(f"/webhooks/{flaky_hook['id']}/").json()["last_error"] is None


def test_a_url_refused_at_delivery_is_not_reached_and_recorded(gw: Gateway, api: httpx.Client, db: Database) -> None:
    """A URL the guard would refuse now (its host resolves elsewhere, the allow-list changed)."""
    watch_list = new_watch_list(api)["id"]
    webhook = new_webhook(api, NOWHERE, watch_lists=[watch_list])
    db.webhooks.update_one({"_id": webhook["id"]}, {"$set": {"url": METADATA_URL}})
    publish(gw, a_match("body", watch_list))

    recorded = eventually(
        lambda: api.get(f"/webhooks/{webhook['id']}/").json()["last_error"], what="the refusal recorded"
    )
    assert "Refused to reach" in recorded
