"""Storage's decisions on plain values: what a probe writes, which url to fetch and what a failed
fetch says, the counters' fields. No servers; each test well under a second."""

import httpx
import pytest

from vidar.documents import ObjectCounts
from vidar.models.events import VideoProbed
from vidar.read_models import ArchiveSource
from vidar.streams import StreamTooLarge
from vidar.urlguard import UrlRefused
from vidar_storage.service import fetch_failure, probe_result
from vidar_storage.settings import StorageSettings

KEY = "videos/7/source/abc"
URL = "http://media.example/clip.mp4"


def test_a_good_file_writes_its_figures_under_their_stored_names() -> None:
    probed = VideoProbed(
        video_id=7,
        object_key=KEY,
        source_len=79.5,
        frame_width=768,
        frame_height=576,
        fps=10.0,
        codec="mpeg4",
        frame_count=795,
    )
    assert probe_result(probed, "videos/7/screenshot.jpg").as_set() == {
        "source_len": 79.5,
        "frame_width": 768,
        "frame_height": 576,
        "source.fps": 10.0,
        "source.codec": "mpeg4",
        "source.frame_count": 795,
        "screenshot_key": "videos/7/screenshot.jpg",
    }


def test_a_file_that_cannot_be_processed_clears_an_earlier_files_figures_and_nothing_else() -> None:
    error = "The file is not a readable video: it is corrupt, truncated or not a video at all."
    written = probe_result(VideoProbed(video_id=7, object_key=KEY, error=error), None).as_set()
    # Its error is in `video.probed`, for the scheduler to show.
    assert written == {"source_len": None, "frame_width": None, "frame_height": None, "screenshot_key": None}


@pytest.mark.parametrize(
    ("archive", "fetched"),
    [
        ({"url": None, "source": None}, None),
        ({"url": URL, "source": None}, URL),
        ({"url": URL, "source": {"key": KEY, "size": 3}}, URL),  # an upload, then a url: the url replaces it
        ({"url": URL, "source": {"key": KEY, "size": 3, "url": URL}}, None),  # fetched: an edit of another field
        ({"url": URL, "source": {"key": KEY, "size": 3, "url": "http://media.example/old.mp4"}}, URL),
    ],
    ids=["no-url", "new", "after-upload", "fetched", "url-changed"],
)
def test_a_url_is_fetched_once_per_change_of_url(archive: dict, fetched: str | None) -> None:
    assert ArchiveSource.model_validate(archive).url_to_fetch() == fetched


SETTINGS = StorageSettings(url_timeout=2, url_total_timeout=60)
REFUSED = "Could not fetch the URL: more than 5 redirects."
TOO_LARGE = "the file is larger than the limit of 100 bytes"


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            UrlRefused("Could not fetch the URL: more than 5 redirects."),
            "Could not fetch the URL: more than 5 redirects.",
        ),
        (
            StreamTooLarge("the file is larger than the limit of 100 bytes"),
            "the file is larger than the limit of 100 bytes",
        ),
        (httpx.ReadTimeout("read"), f"Could not fetch {URL}: timed out (2 s silent or 60 s in all)."),
        (TimeoutError(), f"Could not fetch {URL}: timed out (2 s silent or 60 s in all)."),
        (httpx.ConnectError("connection refused"), f"Could not fetch {URL}: connection refused."),
    ],
    ids=["refused", "too-large", "silent", "too-long", "unreachable"],
)
def test_a_failed_fetch_says_why(error: Exception, shown: str) -> None:
    assert fetch_failure(URL, error, SETTINGS) == shown


@pytest.mark.parametrize(("kind", "field"), [("face", "face_count"), ("body", "body_count"), ("car", "car_count")])
def test_a_recorded_object_counts_one_on_its_kinds_counter(kind: str, field: str) -> None:
    assert ObjectCounts.one_more(kind) == {field: 1}
    assert ObjectCounts.clusters(kind, 3).as_set() == {field.replace("_count", "_cluster_count"): 3}
