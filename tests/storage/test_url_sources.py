"""`url` sources fetched by the storage service from a real HTTP server on loopback."""

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway, consumer_caught_up
from tests.storage.archives import new_archive, probed, republish
from vidar import subjects
from vidar.models.events import Envelope, VideoFetchFailed, VideoFetchProgress

# The scheduler shows what storage finds wrong with a source (`error`, `health_status`).
pytestmark = pytest.mark.usefixtures("storage", "scheduler")


def media_server_handler(videos: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, query = urlsplit(self.path).path, parse_qs(urlsplit(self.path).query)
            if path.startswith("/videos/"):
                self._send(200, (videos / path.removeprefix("/videos/")).read_bytes())
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query["to"][0])
                self.end_headers()
            elif path == "/slow":
                self.send_response(200)
                self.send_header("Content-Length", str(10_000_000))
                self.end_headers()
                self.wfile.write(b"\x00" * 1024)
                self.wfile.flush()
                time.sleep(6)
            else:
                self._send(404, b"not here")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "video/x-msvideo" if status == 200 else "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def media_server(videos: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), media_server_handler(videos))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_url_source_is_fetched_and_probed(api: httpx.Client, db: Database, media_server: str, videos: Path) -> None:
    video_id = new_archive(api, url=f"{media_server}/videos/vtest.avi")
    video = probed(api, video_id)
    assert video["error"] is None
    assert (video["frame_width"], video["source_len"]) == (768, 79.5)
    assert video["file_size"] == (videos / "vtest.avi").stat().st_size
    source = db.videos.find_one({"_id": video_id})["source"]
    assert source["sha256"] == hashlib.sha256((videos / "vtest.avi").read_bytes()).hexdigest()
    assert source["url"] == video["url"]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/redirect?to=http://127.0.0.2:9/videos/vtest.avi", ["127.0.0.2", "loopback", "VIDAR_URL_ALLOWLIST"]),
        ("/redirect?to=http://169.254.169.254/latest/meta-data/", ["169.254.169.254", "link-local"]),
        ("/missing.mp4", ["answered 404"]),
        ("/slow", ["timed out"]),
    ],
    ids=["redirect-to-refused-loopback", "redirect-to-metadata", "not-found", "slow-server"],
)
def test_a_url_that_cannot_be_fetched_is_explained(
    api: httpx.Client, media_server: str, object_keys, path: str, words: list[str]
) -> None:
    video_id = new_archive(api, url=f"{media_server}{path}")
    video = probed(api, video_id)
    for word in words:
        assert word in video["error"]
    assert video["health_status"]["code"] == "red"
    assert video["file_size"] == 0
    assert object_keys(f"videos/{video_id}/source/") == []


def test_a_refused_address_is_refused_before_any_connection(api: httpx.Client) -> None:
    video_id = new_archive(api, url="http://10.11.12.13/video.mp4")
    assert "10.11.12.13 is" in probed(api, video_id)["error"]
    assert "a private address" in probed(api, video_id)["error"]


def test_changing_the_url_fetches_again(api: httpx.Client, media_server: str) -> None:
    video_id = new_archive(api, url=f"{media_server}/missing.mp4")
    assert probed(api, video_id)["error"]
    api.patch(f"/videos/{video_id}/", json={"url": f"{media_server}/videos/carphone_pristine.mp4"})
    fixed = eventually(lambda: (v := api.get(f"/videos/{video_id}/").json())["source_len"] and v)
    assert fixed["error"] is None
    assert fixed["frame_width"] == 176


def shown(video: dict) -> tuple:
    """What the archive shows about its state."""
    health = video["health_status"]
    return video["error"], health["code"], health["code_desc"], health["msg"]


def delivered_late(gw: Gateway, event: Envelope, consumer: str) -> None:
    """`event` reaches the scheduler now, as a redelivery or a slow relay would bring it."""
    republish(gw, event)
    eventually(lambda: consumer_caught_up(gw.env["VIDAR_NATS_URL"], consumer), what=f"{consumer} to handle it")


def test_a_late_progress_note_does_not_hide_a_failed_fetch(api: httpx.Client, gw: Gateway, media_server: str) -> None:
    url = f"{media_server}/missing.mp4"
    video_id = new_archive(api, url=url)
    failed = probed(api, video_id)
    # A note from when the fetch began, delivered after its failure.
    began = datetime.fromisoformat(failed["created_date"])
    progress = VideoFetchProgress(video_id=video_id, url=url, received=1024, total=None)
    delivered_late(
        gw,
        Envelope(type=subjects.VIDEO_FETCH_PROGRESS, occurred_at=began, payload=progress),
        "scheduler-fetch-progress",
    )
    assert shown(api.get(f"/videos/{video_id}/").json()) == shown(failed)
    assert "answered 404" in failed["health_status"]["msg"]


def test_a_failure_of_a_url_fetched_since_changes_nothing(api: httpx.Client, gw: Gateway, media_server: str) -> None:
    url = f"{media_server}/videos/carphone_pristine.mp4"
    video_id = new_archive(api, url=url)

    def probed_and_synced() -> dict | None:
        video = probed(api, video_id)
        return video if video["health_status"]["status"] != "WAITING_FOR_SYNC" else None

    # Synced too: the scheduler syncs a burst's archives together, so it may come after the probe.
    good = eventually(probed_and_synced, what=f"video {video_id} probed and synced")
    stale = VideoFetchFailed(video_id=video_id, url=url, error=f"Could not fetch {url}: timed out.")
    delivered_late(gw, Envelope(type=subjects.VIDEO_FETCH_FAILED, payload=stale), "scheduler-fetch-failed")
    assert shown(api.get(f"/videos/{video_id}/").json()) == shown(good)
    assert good["error"] is None


def test_only_http_urls_are_accepted(api: httpx.Client) -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/a.mp4", "gopher://x"):
        response = api.post("/videos/", json={"camera_group": 1, "name": "x", "url": url})
        assert (response.status_code, response.json()["param"]) == (400, "url")
