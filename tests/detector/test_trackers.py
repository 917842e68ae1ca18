"""simple_iou and deep_sort on the same real footage: vtest.avi's first 15 seconds at the default
cadence (5 detections a second: every other frame), yolov3-tiny's person boxes (at 512, found
once, given to both; the figures below were measured with it), deep_sort with the real
appearance model.

vtest's walkers cross and pass behind each other: greedy IoU matching, even at each track's
expected place, loses a walker where two boxes overlap and starts a new track, while deep_sort
carries the identity through by appearance. Both must cover the same people.

Measured: simple_iou 17 tracks of 5 frames or more, 49 frames long on average; deep_sort 11,
69 frames long; 99.4% of deep_sort's detected boxes are in simple_iou's tracks. (Detecting in
every frame: 17 and 51, 12 and 71, 99.1%; with the ultralytics fall model at 640 in every frame,
four times slower to find the boxes: 18 and 59, 12 and 78, 99.9%.)"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.detector.test_detectors import APPEARANCE, COCO, frames
from vidar.models.stream_settings import KindSettings
from vidar_detector.appearance import AppearanceEmbedder, appearance_embedder
from vidar_detector.deep_sort import DeepSortTracker, Embed
from vidar_detector.detections import Detections
from vidar_detector.detectors import DarknetDetector
from vidar_detector.geometry import Box, iou
from vidar_detector.settings import DEFAULT_CLASS_MAP
from vidar_detector.tracking import IouTracker, Track, Tracker

FRAMES = 150
FPS = 10
STEP = 2  # frames a detection step (5 a second, the default rate)
SETTINGS = KindSettings(filter_min_size=20)  # vtest's walkers are 25 to 60 pixels wide


def passing(found: Detections) -> Detections:
    return found[found.passing(SETTINGS)]


@pytest.fixture(scope="module")
def footage(models: Path, videos: Path) -> list[tuple[np.ndarray, Detections]]:
    detector = DarknetDetector(models / COCO, DEFAULT_CLASS_MAP, image_size=512, min_score=0.25, threads=2)
    images = frames(videos / "vtest.avi", set(range(0, FRAMES, STEP)))
    return [(image, passing(detector.detect(image))) for image in images]


@pytest.fixture(scope="module")
def appearances(models: Path, footage: list[tuple[np.ndarray, Detections]]) -> list[list[np.ndarray]]:
    """Each frame's appearance vectors of its boxes, as deep_sort asks for them (one call a frame).
    The real model on about 800 crops is the test's slowest part: two embedders (one thread each,
    as the detector runs one) take every other frame, on both cores."""
    embedders = [appearance_embedder(models / APPEARANCE), AppearanceEmbedder(models / APPEARANCE)]

    def every_other_frame(first: int) -> list[list[np.ndarray]]:
        return [embedders[first].embed(image, found.box_list()) for image, found in footage[first::2]]

    with ThreadPoolExecutor(2) as pool:
        even, odd = pool.map(every_other_frame, (0, 1))
    return [even[index // 2] if index % 2 == 0 else odd[index // 2] for index in range(len(footage))]


def replayed(footage: list[tuple[np.ndarray, Detections]], appearances: list[list[np.ndarray]]) -> Embed:
    """The embedder's vectors for each frame's boxes, computed beforehand."""
    by_image = {id(image): (found, vectors) for (image, found), vectors in zip(footage, appearances, strict=True)}

    def embed(image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        found, vectors = by_image[id(image)]
        assert boxes == found.box_list(), "deep_sort asks for the vectors of the frame's boxes, in order"
        return vectors

    return embed


def tracks_of(tracker: Tracker, footage: list[tuple[np.ndarray, Detections]]) -> list[Track]:
    ended = []
    for index, (image, found) in enumerate(footage):
        frame = index * STEP
        ended += tracker.update(found, frame, frame / FPS, image).ended
    return [track for track in ended + tracker.finish() if track.duration_frames >= 5]


def simple_iou() -> IouTracker:
    return IouTracker(SETTINGS.track_overlap_threshold, SETTINGS.track_miss_interval)


def deep_sort(embed: Embed) -> DeepSortTracker:
    return DeepSortTracker(
        embed,
        matching_threshold=SETTINGS.track_deep_sort_matching_threshold,
        filter_unconfirmed=SETTINGS.track_deep_sort_filter_unconfirmed_tracks,
        miss_interval=SETTINGS.track_miss_interval,
        steps_per_second=FPS / STEP,
    )


def share_covered(tracks: list[Track], others: list[Track]) -> float:
    """The share of the detected (not interpolated) boxes of `tracks` that one of `others` has
    too (IoU >= 0.5, same frame)."""
    boxes_by_frame: dict[int, list[Box]] = {}
    for other in others:
        for sighting in other.sightings:
            boxes_by_frame.setdefault(sighting.frame, []).append(sighting.box)
    detected = [s for track in tracks for s in track.sightings if not s.interpolated]
    hits = sum(any(iou(s.box, box) >= 0.5 for box in boxes_by_frame.get(s.frame, [])) for s in detected)
    return hits / len(detected)


def mean_length(tracks: list[Track]) -> float:
    return sum(track.duration_frames for track in tracks) / len(tracks)


def test_deep_sort_keeps_identities_that_simple_iou_splits(
    footage: list[tuple[np.ndarray, Detections]], appearances: list[list[np.ndarray]]
) -> None:
    by_iou = tracks_of(simple_iou(), footage)
    by_deep_sort = tracks_of(deep_sort(replayed(footage, appearances)), footage)
    assert len(by_deep_sort) < len(by_iou)
    assert mean_length(by_deep_sort) > mean_length(by_iou)
    assert share_covered(by_deep_sort, by_iou) > 0.9, "the same people, only joined differently"
