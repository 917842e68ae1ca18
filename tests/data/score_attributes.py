"""Scores vidar_detector.attributes against the attributes labelled by hand in
tests/data/labels/attributes.json, on the crops of the labelled frames:

    python -m tests.data.score_attributes [--models .cache/models] [--videos .cache/videos]

Reports gender accuracy and the age error (years from the labelled band's middle, and the share
inside the band) on real faces (carphone, bikes, the photographs) and apart on Megamind's animated
ones; the emotions and masks found (nobody labelled wears a mask: every `mask` is a false alarm; then
each face again with a mask painted on);
the exact-name accuracy of body top and bottom colours (vtest's walkers) and of vehicle colours
(vtest, bikes), lenient (any labelled name) and strict (the first). Each row also gives the mean
cost of one crop, in ms, on one thread (the attribute models' own setting): time it on an idle
machine.
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
from vidar_detector.attributes.colors import body_colors, car_color
from vidar_detector.attributes.faces import AgeGenderModel, EmotionModel, MaskModel
from vidar_detector.faces import face_chip

LABELS = Path(__file__).parent / "labels"
MODELS = Path(__file__).parents[2] / ".cache" / "models"
# Every 40th frame of vtest: the frames of vtest.json, whose boxes were drawn by hand.
WALKER_FRAME_STEP = 40
PAINTED_MASK_RGB = (150, 200, 230)
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


def score_faces(truth: dict[str, Any], models: Path, videos: Path) -> list[str]:
    age_gender = AgeGenderModel(models / "age-v1.onnx", models / "gender-v1.onnx")
    emotion, mask = EmotionModel(models / "emotion-minixception.onnx"), MaskModel(models / "mask-mobilenetv2.onnx")
    photos = [(entry, np.asarray(Image.open(videos / entry["image"]).convert("RGB"))) for entry in truth["photos"]]
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for entry, rgb in [*labelled_frames(truth["faces"], videos), *photos]:
        box = tuple(entry["box"])
        chip, chip_seconds = timed(lambda: face_chip(rgb, box))  # noqa: B023 (called at once)
        found, seconds = timed(lambda: age_gender.predict(chip))  # noqa: B023
        expression, emotion_seconds = timed(lambda: emotion.predict(chip))  # noqa: B023
        masked, mask_seconds = timed(lambda: mask.predict(rgb, box))  # noqa: B023
        painted = mask.predict(with_painted_mask(rgb, box), box)
        group = groups["real faces" if entry["real"] else "animated faces (Megamind)"]
        group["gender"].append(found.gender.name == entry["gender"])
        if "age" in entry:
            low, high = entry["age"]
            group["age_error"].append(abs(found.age - (low + high) / 2))
            group["in_band"].append(low <= found.age <= high)
        group["emotion"].append(expression.name)
        group["mask"].append(masked.name)
        group["painted_mask"].append(painted.name)
        group["people"].append(entry["person"])
        for name, spent in (("chip", chip_seconds), ("age_gender", seconds), ("emotion_ms", emotion_seconds)):
            group[name].append(spent)
        group["mask_ms"].append(mask_seconds)
    rows = ["faces                        gender  n   people  age MAE  in band  ms: chip age+gender emotion mask"]
    for name, group in groups.items():
        rows.append(
            f"{name:<28} {np.mean(group['gender']):6.3f} {len(group['gender']):4d} {len(set(group['people'])):5d}"
            f" {np.mean(group['age_error']):8.1f} {np.mean(group['in_band']):8.2f}"
            f"      {1000 * np.mean(group['chip']):5.2f} {1000 * np.mean(group['age_gender']):10.2f}"
            f" {1000 * np.mean(group['emotion_ms']):7.2f} {1000 * np.mean(group['mask_ms']):5.2f}"
        )
        rows.append(f"    emotions: {dict(Counter(group['emotion']).most_common())}")
        rows.append(f"    masks (none worn): {dict(Counter(group['mask']).most_common())}")
        rows.append(f"    masks painted on: {dict(Counter(group['painted_mask']).most_common())}")
    return rows


def with_painted_mask(rgb: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """The frame with a flat pale blue mask painted over the face's lower half, nose to chin: how
    the mask model's training set was made (masks pasted onto photographs), and all the masked
    faces there are here."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    outline = [(0.08, 0.5), (0.92, 0.5), (0.85, 0.9), (0.5, 1.0), (0.15, 0.9)]
    corners = np.array([[x1 + x * width, y1 + y * height] for x, y in outline], np.int32)
    return cv2.fillPoly(rgb.copy(), [corners], PAINTED_MASK_RGB)


def score_walkers(truth: dict[str, Any], videos: Path) -> list[str]:
    walkers = {walker["id"]: walker for walker in json.loads((LABELS / "vtest-walkers.json").read_text())["walkers"]}
    entries = [
        {**labelled, "labels": "vtest-walkers.json", "frame": int(frame), "box": box}
        for labelled in truth["walkers"]
        for frame, box in walkers[labelled["walker"]]["boxes"].items()
        if int(frame) % WALKER_FRAME_STEP == 0 and int(frame) not in labelled.get("hidden", [])
    ]
    top, bottom = Tally(), Tally()
    for entry, rgb in labelled_frames(entries, videos):
        (top_color, bottom_color), seconds = timed(lambda: body_colors(rgb, tuple(entry["box"])))  # noqa: B023
        # Both rows carry the cost of the whole body: its top and bottom are named in one call.
        top.add(top_color.name, entry["top"], seconds)
        bottom.add(bottom_color.name, entry["bottom"], seconds)
    return [top.row("walkers' tops (vtest)"), bottom.row("walkers' bottoms (vtest)")]


def score_vehicles(truth: dict[str, Any], videos: Path) -> list[str]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for entry, rgb in labelled_frames([entry for entry in truth["vehicles"] if not entry.get("unusable")], videos):
        found, seconds = timed(lambda: car_color(rgb, tuple(entry["box"])))  # noqa: B023
        source = "vehicles (vtest)" if entry["labels"].startswith("vtest") else "vehicles (bikes)"
        for name in (source, "vehicles (all)"):
            tallies[name].add(found.name, entry["color"], seconds)
    return [tallies[name].row(name) for name in ("vehicles (vtest)", "vehicles (bikes)", "vehicles (all)")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=MODELS, help="the fetched weights (default .cache/models)")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="the fetched videos (default .cache/videos)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    truth = json.loads((LABELS / "attributes.json").read_text())
    print("\n".join(score_faces(truth, args.models, args.videos)))
    print("\ncolours                      right strict     n   ms/crop  commonest errors (labelled->found)")
    print("\n".join(score_walkers(truth, args.videos) + score_vehicles(truth, args.videos)))


if __name__ == "__main__":
    main()
