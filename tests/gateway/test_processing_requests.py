"""Why the gateway refuses to ask for a run (409), and where an archive's source stands, on plain
archives: no servers."""

import pytest

from vidar.documents import NO_SOURCE, SourceState, source_state, why_unusable

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
