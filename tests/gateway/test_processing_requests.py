"""Why the gateway refuses to ask for a run (409): a run queued or running, or where the archive's
source stands, on plain archives: no servers."""

import pytest

from vidar.documents import NO_SOURCE, SourceState, source_state, why_unusable
from vidar_gateway.videos.processing import why_not_processed

KEY = "videos/7/source/abc"
URL = "http://media.example/clip.mp4"
UNPROBED = {"key": KEY, "size": 1000}
PROBED = {**UNPROBED, "fps": 25.0, "codec": "h264", "frame_count": 100}
FETCH_FAILED = f"Could not fetch {URL}: the server answered 404 Not Found."
NOT_A_VIDEO = "The file is not a readable video: it is corrupt, truncated or not a video at all."
# An earlier file's figures stay until the new file's probe: they say nothing of the new one.
EARLIER_FILES_FIGURES = {"source_len": 4.0, "frame_width": 176, "frame_height": 144}


@pytest.mark.parametrize(
    ("archive", "state", "refusal"),
    [
        ({"source": PROBED, "error": None}, SourceState.READY, None),
        ({"source": PROBED, "error": "the last run failed"}, SourceState.READY, None),  # a run's error: run again
        ({"source": None, "url": None}, SourceState.MISSING, NO_SOURCE),
        ({"source": None, "url": URL, "error": None}, SourceState.FETCHING, None),
        (
            {"source": None, "url": URL, "error": FETCH_FAILED, "source_problem": {"of": URL, "error": FETCH_FAILED}},
            SourceState.UNUSABLE,
            FETCH_FAILED,
        ),
        (
            {"source": None, "url": URL, "source_problem": {"of": "http://media.example/old.mp4", "error": "404"}},
            SourceState.FETCHING,
            None,
        ),
        ({"source": UNPROBED, "error": None}, SourceState.PROBING, None),
        ({"source": UNPROBED, **EARLIER_FILES_FIGURES, "error": None}, SourceState.PROBING, None),
        ({"source": UNPROBED, "error": "the last run failed"}, SourceState.PROBING, None),
        (
            {"source": UNPROBED, "error": NOT_A_VIDEO, "source_problem": {"of": KEY, "error": NOT_A_VIDEO}},
            SourceState.UNUSABLE,
            NOT_A_VIDEO,
        ),
        (
            {"source": UNPROBED, "source_problem": {"of": "videos/7/source/replaced", "error": NOT_A_VIDEO}},
            SourceState.PROBING,
            None,
        ),
        ({"source": UNPROBED, "url": URL, "source_problem": None}, SourceState.PROBING, None),  # fetched, probing
    ],
    ids=[
        "ready",
        "after-a-failed-run",
        "no-source",
        "fetching",
        "fetch-failed",
        "fetching-after-another-urls-failure",
        "probing",
        "probing-a-new-file",
        "probing-after-a-failed-run",
        "not-a-video",
        "probing-after-a-replaced-files-problem",
        "fetched-and-probing",
    ],
)
def test_a_run_is_refused_only_when_no_usable_source_is_coming(
    archive: dict, state: SourceState, refusal: str | None
) -> None:
    assert source_state(archive) is state
    assert why_unusable(archive) == refusal


@pytest.mark.parametrize("status", ["QUEUED", "INPROGRESS"])
def test_a_run_is_refused_while_one_is_queued_or_running(status: str) -> None:
    """A 200 would say a run starts, where the request would change nothing."""
    refusal = why_not_processed({"_id": 7, "source": PROBED, "health_status": {"status": status}})
    assert refusal == f"it is {status} already; stop it first (POST /videos/7/stop/) to start a new run"


@pytest.mark.parametrize("status", ["WAITING_FOR_SYNC", "NOT_STARTED", "COMPLETED", "FAILED", "STOPPED"])
def test_an_idle_archive_with_a_source_is_processed(status: str) -> None:
    assert why_not_processed({"_id": 7, "source": PROBED, "health_status": {"status": status}}) is None


def test_an_idle_archive_without_a_source_is_refused_for_that() -> None:
    idle = {"_id": 7, "source": None, "url": None, "health_status": {"status": "NOT_STARTED"}}
    assert why_not_processed(idle) == NO_SOURCE
