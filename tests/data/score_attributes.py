"""Scores vidar_detector.attributes against the attributes labelled by hand in
tests/data/labels/attributes.json, on the crops of the labelled frames, described as the detector
describes a posted object (`Describer`, FindFace's names: `scared`, mask `none`):

    python -m tests.data.score_attributes [--models .cache/models] [--videos .cache/videos]

Reports gender accuracy and the age error (years from the labelled band's middle, and the share
inside the band) on real faces (carphone, bikes, the photographs) and apart on Megamind's animated
ones; the emotions and masks found (nobody labelled wears a mask: every `mask` is a false alarm; then
each face again with a mask painted on);
the exact-name accuracy of body top and bottom colours (vtest's walkers) and of vehicle colours
(vtest, bikes), lenient (any labelled name) and strict (the first). Each row also gives the mean
cost of one crop's description (a face: its chip and all four networks; a car: its colour and plate),
in ms, on one thread (the attribute models' own setting): time it on an idle machine.
tests/detector/test_attributes.py asserts the accuracies the issue asks for through the same
functions.
"""

import argparse
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
from PIL import Image

from tests.data.draw_labels import VIDEOS, frames
from vidar.models.attributes import ColorFeature, FaceFeatures
from vidar_detector.attributes.describe import AttributeModels, Describer, body

LABELS = Path(__file__).parent / "labels"
MODELS = Path(__file__).parents[2] / ".cache" / "models"
# Every 40th frame of vtest: the frames of vtest.json, whose boxes were drawn by hand.
WALKER_FRAME_STEP = 40
PAINTED_MASK_RGB = (150, 200, 230)
REAL_FACES = "real faces"
ALL_VEHICLES = "vehicles (all)"
Result = TypeVar("Result")


@dataclass
class Tally:
    right: int = 0
    strict: int = 0
    total: int = 0
    seconds: float = 0.0
    confusion: Counter = field(default_factory=Counter)

    def add(self, found: str, wanted: list[str], seconds: float) -> None:
        self.total += 1
        self.right += found in wanted
        self.strict += found == wanted[0]
        self.seconds += seconds
        if found not in wanted:
            self.confusion[f"{wanted[0]}->{found}"] += 1

    @property
    def accuracy(self) -> float:
        """The share named with any of their labelled names."""
        return self.right / self.total

    def row(self, name: str) -> str:
        wrong = ", ".join(f"{pair} {count}" for pair, count in self.confusion.most_common(4))
        return (
            f"{name:<28} {self.right / self.total:6.3f} {self.strict / self.total:6.3f} {self.total:5d}"
            f" {1000 * self.seconds / self.total:7.2f}  {wrong}"
        )


def timed(function: Callable[[], Result]) -> tuple[Result, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def labelled_frames(entries: list[dict[str, Any]], videos: Path) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """Each entry with the RGB frame it was labelled on, read once a frame."""
    by_file: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for entry in entries:
        by_file[entry["labels"]][entry["frame"]].append(entry)
    for name, by_frame in by_file.items():
        video = json.loads((LABELS / name).read_text())["video"]
        for index, image in frames(videos / video, set(by_frame)):
            rgb = np.asarray(image.convert("RGB"))
            for entry in by_frame[index]:
                yield entry, rgb


@dataclass
class FaceGroup:
    """The faces of one group (real or animated), described as the detector describes a posted face."""

    gender: list[bool] = field(default_factory=list)
    age_error: list[float] = field(default_factory=list)
    in_band: list[bool] = field(default_factory=list)
    emotions: Counter = field(default_factory=Counter)
    masks: Counter = field(default_factory=Counter)
    painted_masks: Counter = field(default_factory=Counter)
    people: set[str] = field(default_factory=set)
    seconds: list[float] = field(default_factory=list)

    def add(self, entry: dict[str, Any], found: FaceFeatures, painted: FaceFeatures, seconds: float) -> None:
        # An attribute left unknown (a face too small) counts as wrong.
        self.gender.append(found.gender is not None and found.gender.name == entry["gender"])
        if "age" in entry and found.age is not None:
            low, high = entry["age"]
            self.age_error.append(abs(found.age.name - (low + high) / 2))
            self.in_band.append(low <= found.age.name <= high)
        self.emotions[found.emotions.name if found.emotions else None] += 1
        self.masks[found.medmask.name if found.medmask else None] += 1
        self.painted_masks[painted.medmask.name if painted.medmask else None] += 1
        self.people.add(entry["person"])
        self.seconds.append(seconds)

    def row(self, name: str) -> list[str]:
        return [
            f"{name:<28} {np.mean(self.gender):6.3f} {len(self.gender):4d} {len(self.people):5d}"
            f" {np.mean(self.age_error):8.1f} {np.mean(self.in_band):8.2f} {1000 * np.mean(self.seconds):8.2f}",
            f"    emotions: {dict(self.emotions.most_common())}",
            f"    masks (none worn): {dict(self.masks.most_common())}",
            f"    masks painted on: {dict(self.painted_masks.most_common())}",
        ]


def describer(models: Path) -> Describer:
    return Describer(AttributeModels.load(models))


def score_faces(truth: dict[str, Any], describe: Describer, videos: Path) -> dict[str, FaceGroup]:
    """The labelled faces, real and animated apart, as the detector describes them."""
    photos = [(entry, np.asarray(Image.open(videos / entry["image"]).convert("RGB"))) for entry in truth["photos"]]
    groups: dict[str, FaceGroup] = defaultdict(FaceGroup)
    for entry, rgb in [*labelled_frames(truth["faces"], videos), *photos]:
        box = tuple(entry["box"])
        found, seconds = timed(lambda: describe.face(rgb, box))  # noqa: B023 (called at once)
        painted = describe.face(with_painted_mask(rgb, box), box)
        groups[REAL_FACES if entry["real"] else "animated faces (Megamind)"].add(entry, found, painted, seconds)
    return groups


def with_painted_mask(rgb: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """The frame with a flat pale blue mask painted over the face's lower half, nose to chin: how
    the mask model's training set was made (masks pasted onto photographs), and all the masked
    faces there are here."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    outline = [(0.08, 0.5), (0.92, 0.5), (0.85, 0.9), (0.5, 1.0), (0.15, 0.9)]
    corners = np.array([[x1 + x * width, y1 + y * height] for x, y in outline], np.int32)
    return cv2.fillPoly(rgb.copy(), [corners], PAINTED_MASK_RGB)


def score_walkers(truth: dict[str, Any], videos: Path) -> tuple[Tally, Tally]:
    """Top and bottom colours of vtest's labelled walkers, every 40th frame, as the detector names
    a posted body's."""
    walkers = {walker["id"]: walker for walker in json.loads((LABELS / "vtest-walkers.json").read_text())["walkers"]}
    entries = [
        {**labelled, "labels": "vtest-walkers.json", "frame": int(frame), "box": box}
        for labelled in truth["walkers"]
        for frame, box in walkers[labelled["walker"]]["boxes"].items()
        if int(frame) % WALKER_FRAME_STEP == 0 and int(frame) not in labelled.get("hidden", [])
    ]
    top, bottom = Tally(), Tally()
    for entry, rgb in labelled_frames(entries, videos):
        found, seconds = timed(lambda: body(rgb, tuple(entry["box"])))  # noqa: B023
        # Both rows carry the cost of the whole body: its top and bottom are named in one call.
        top.add(_name(found.top_color), entry["top"], seconds)
        bottom.add(_name(found.bottom_color), entry["bottom"], seconds)
    return top, bottom


def score_vehicles(truth: dict[str, Any], describe: Describer, videos: Path) -> dict[str, Tally]:
    """The labelled vehicles' colours (vtest, bikes, and all), as the detector names a posted car's."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for entry, rgb in labelled_frames([entry for entry in truth["vehicles"] if not entry.get("unusable")], videos):
        found, seconds = timed(lambda: describe.car(rgb, tuple(entry["box"])))  # noqa: B023
        source = "vehicles (vtest)" if entry["labels"].startswith("vtest") else "vehicles (bikes)"
        for name in (source, ALL_VEHICLES):
            tallies[name].add(_name(found.color), entry["color"], seconds)
    return tallies


def _name(color: ColorFeature | None) -> str:
    return color.name if color else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=MODELS, help="the fetched weights (default .cache/models)")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="the fetched videos (default .cache/videos)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    truth = json.loads((LABELS / "attributes.json").read_text())
    describe = describer(args.models)
    print("faces                        gender  n   people  age MAE  in band  ms/face")
    for name, group in score_faces(truth, describe, args.videos).items():
        print("\n".join(group.row(name)))
    print("\ncolours                      right strict     n   ms/crop  commonest errors (labelled->found)")
    top, bottom = score_walkers(truth, args.videos)
    print(top.row("walkers' tops (vtest)"))
    print(bottom.row("walkers' bottoms (vtest)"))
    vehicles = score_vehicles(truth, describe, args.videos)
    for name in ("vehicles (vtest)", "vehicles (bikes)", ALL_VEHICLES):
        print(vehicles[name].row(name))


if __name__ == "__main__":
    main()
