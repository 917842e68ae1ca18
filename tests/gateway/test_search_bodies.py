"""looks_like on bodies, on the real stack with the real models: the walkers of vtest.avi's first
20 s, each posted about once a second (realtime posts), searched by one of their events. Appearance
vectors are ImageNet features of the body crop: a walker's other events should rank above the
other walkers', though people in similar clothes come close."""

from pathlib import Path

import httpx
import pytest

from tests.gateway.test_search import search, until_indexed
from tests.scheduler.processing import ready_archive, wait_for
from tests.vidar.test_devstack_run import first_seconds

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")

BODIES = {
    "face": None,
    "body": {
        "filter_min_size": 20,
        "filter_track_min_duration_frames": 10,
        "overall_only": False,
        "realtime_post_every_interval": True,
        "realtime_post_interval": 1,
    },
}
# Tracks with this many events or more are searched by their middle event.
SEARCHED_TRACK_EVENTS = 6
# Measured on this clip: the share of a walker's other events among the first as many results is
# 0.52 on average over its 8 long walks (0.0 to 0.78: one walker in dark clothes is taken for the
# others), where a random ranking would give about 0.1. Below these the vectors no longer tell
# walkers apart.
LEAST_MEAN_PRECISION = 0.4
TIMES_CHANCE = 3


@pytest.fixture(scope="module")
def walkers(gw, videos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """The clip's body events, by track."""
    clip = first_seconds(videos / "vtest.avi", 20, tmp_path_factory.mktemp("bodies") / "clip.avi")
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Token {gw.admin_token}"}, timeout=60) as api:
        video_id = ready_archive(api, clip, detectors=BODIES)
        api.post(f"/videos/{video_id}/process/")
        wait_for(api, video_id, "COMPLETED", timeout=600)
        events = search(api, "/events/bodies/", video_archive=video_id, limit=1000)["results"]
    tracks: dict[str, list[dict]] = {}
    for event in events:
        tracks.setdefault(event["track"], []).append(event)
    return tracks


def chance(track: list[dict], events: int) -> float:
    """The precision a random ranking of the other events would have."""
    return (len(track) - 1) / (events - 1)


def precision_of(api: httpx.Client, track: list[dict]) -> float:
    """The share of the track's other events among the first results of a search by its middle event."""
    query = sorted(track, key=lambda event: event["stream_time"])[len(track) // 2]
    others = {event["id"] for event in track} - {query["id"]}
    looks_like = f"bodyevent:{query['id']}"
    # Within the archive: other tests process vtest too.
    within = {"path": "/events/bodies/", "threshold": 0, "video_archive": query["video_archive"]}
    page = until_indexed(api, looks_like, lambda ids: query["id"] in ids, **within)
    ranked = [row for row in page["results"] if row["id"] != query["id"]]
    assert page["results"][0]["id"] == query["id"], "an event is most like itself"
    assert page["results"][0]["looks_like_confidence"] == pytest.approx(1.0)
    return len({row["id"] for row in ranked[: len(others)]} & others) / len(others)


def test_a_walkers_other_events_come_first(gw, walkers: dict[str, list[dict]]) -> None:
    searched = [track for track in walkers.values() if len(track) >= SEARCHED_TRACK_EVENTS]
    assert len(searched) >= 3, "vtest's first 20 s have several long walks"
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Token {gw.admin_token}"}, timeout=60) as api:
        precisions = [precision_of(api, track) for track in searched]
    mean = sum(precisions) / len(precisions)
    events = sum(len(track) for track in walkers.values())
    random = sum(chance(track, events) for track in searched) / len(searched)
    shown = sorted(round(precision, 2) for precision in precisions)
    print(f"bodyevent search, {len(searched)} walkers: precision {shown}, chance {random:.2f}")
    assert mean >= LEAST_MEAN_PRECISION, precisions
    assert mean >= TIMES_CHANCE * random, (mean, random)
