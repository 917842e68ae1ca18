"""Why the gateway refuses to ask for a run (409), on plain archives: no servers."""

import pytest

from vidar_gateway.videos.processing import why_not_processable

SOURCE = {"key": "videos/7/source/abc", "size": 1000}
FETCH_FAILED = "Could not fetch http://media.example/clip.mp4: the server answered 404 Not Found."
NOT_A_VIDEO = "The file is not a readable video: it is corrupt, truncated or not a video at all."


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        ({"source": SOURCE, "source_len": 4.0, "error": None}, None),
        ({"source": SOURCE, "source_len": 4.0, "error": "the last run failed"}, None),  # a run's error: run again
        (
            {"source": None, "url": None},
            "it has no source file: upload one (PUT /videos/{id}/upload/source_file/) or set url",
        ),
        (
            {"source": None, "url": "http://media.example/clip.mp4", "error": None},
            "its url source is still being fetched",
        ),
        ({"source": None, "url": "http://media.example/clip.mp4", "error": FETCH_FAILED}, FETCH_FAILED),
        (
            {"source": SOURCE, "source_len": None, "error": None},
            "its source file is still being probed; try again in a moment",
        ),
        ({"source": SOURCE, "source_len": None, "error": NOT_A_VIDEO}, NOT_A_VIDEO),
    ],
    ids=["ready", "after-a-failed-run", "no-source", "fetching", "fetch-failed", "probing", "not-a-video"],
)
def test_an_archive_is_processable_once_its_source_is_in_and_probed(archive: dict, reason: str | None) -> None:
    assert why_not_processable(archive) == reason
