"""Named colours of bodies (top and bottom) and cars, as a person would say them: black, white,
grey, red, orange, yellow, green, blue, purple, pink, brown, beige.

Each pixel of the part of the box where the garment or the car's body lies is named after the
nearest of a few reference colours in CIELAB (a perceptual space: equal distances look about
equally different), and the part takes the name most of its pixels have. Lightness counts half as
much as hue and chroma, so a shadow on a red jacket stays red; a vivid name needs fewer votes than
a muted one, since creases, shadows and the background behind a thin figure are dark or grey
whatever the clothes. A body's box also holds background beside the figure: the pixels that
look like the box's side edges (background, mostly) are left out, unless that would leave too few.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from vidar_detector.geometry import Box

COLOR_NAMES = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "beige")
# Reference colours (sRGB) a name covers, several where the name spans light and dark shades.
REFERENCES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "black": ((15, 15, 15), (40, 40, 42)),
    "grey": ((85, 85, 85), (128, 128, 128), (170, 170, 170)),
    "white": ((215, 215, 215), (245, 245, 245)),
    "red": ((200, 30, 35), (140, 25, 30), (90, 20, 25)),
    "orange": ((240, 130, 30), (200, 100, 30)),
    "yellow": ((240, 220, 50), (200, 180, 50)),
    "green": ((40, 150, 60), (30, 90, 40), (130, 180, 100)),
    # Navy, royal, sky and pale blue; denim, and denim in shadow.
    "blue": ((30, 40, 80), (30, 60, 160), (110, 150, 210), (160, 190, 220), (70, 95, 135), (55, 70, 100), (40, 50, 75)),
    "purple": ((110, 50, 140), (70, 35, 90)),
    "pink": ((240, 140, 180), (210, 100, 150)),
    "brown": ((110, 70, 40), (70, 45, 30), (150, 105, 65)),
    "beige": ((215, 195, 160), (190, 170, 135)),
}
LIGHTNESS_WEIGHT = 0.5
# A vivid name's votes count this many times: a coloured garment is called by its colour even where
# creases and background leave it a minority of the pixels. Not brown's or beige's: warm-tinted
# shadows and greys look brown or beige.
VIVID_WEIGHT = 2.0
MUTED = frozenset({"black", "grey", "white", "brown", "beige"})
# Parts of a box, as fractions of its width and height (x1, y1, x2, y2): a standing person's torso
# below the head and above the hips; the legs below a long coat's hem and above the feet; a car's
# body below the top of its windows.
TOP_PART = (0.2, 0.18, 0.8, 0.5)
BOTTOM_PART = (0.25, 0.6, 0.75, 0.92)
CAR_PART = (0.1, 0.35, 0.9, 0.85)
# Pixels nearer than this (CIELAB, weighted) to a colour of the box's side edges are background.
BACKGROUND_DISTANCE = 12.0
# The side edges' strips, as a fraction of the box's width; and the least share of a part's pixels
# that must remain once the background is left out, or it is kept whole.
EDGE_WIDTH = 0.08
MIN_FOREGROUND_SHARE = 0.3
# Parts are shrunk to at most this many pixels a side before naming: naming is a vote, and a few
# hundred pixels carry it.
SAMPLE_SIDE = 24


@dataclass(frozen=True)
class ColorName:
    name: str
    share: float  # the share of the part's (foreground) pixels that carry the name, 0..1


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0..100, a and b about -128..127) of uint8 RGB pixels, any shape (..., 3)."""
    flat = rgb.reshape(-1, 1, 3).astype(np.float32) / 255
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(-1, 3)


_WEIGHTS = np.array([LIGHTNESS_WEIGHT, 1.0, 1.0], np.float32)
# Naming looks each pixel up by its RGB, 5 bits a channel: the table holds the index in
# COLOR_NAMES of the name nearest to each of the 32768 colours, worked out once.
_LEVELS = 32


def _name_table() -> np.ndarray:
    names = np.array([COLOR_NAMES.index(name) for name, shades in REFERENCES.items() for _ in shades])
    references = _lab(np.array([shade for shades in REFERENCES.values() for shade in shades], np.uint8))
    levels = (np.arange(_LEVELS) * 255 / (_LEVELS - 1)).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)
    return names[_squared_distances(_lab(grid), references).argmin(axis=1)].astype(np.uint8)


def body_colors(frame: np.ndarray, box: Box) -> tuple[ColorName, ColorName]:
    """The colours of the top and of the bottom of the person at `box` of an RGB frame."""
    background = _edge_colors(frame, box)
    return (
        name_color(_part(frame, box, TOP_PART), background),
        name_color(_part(frame, box, BOTTOM_PART), background),
    )


def car_color(frame: np.ndarray, box: Box) -> ColorName:
    """The colour of the car at `box` of an RGB frame."""
    return name_color(_part(frame, box, CAR_PART))


def name_color(rgb: np.ndarray, background: np.ndarray | None = None) -> ColorName:
    """The name most pixels of an RGB patch carry, leaving out those near a `background` colour
    (CIELAB rows) where enough remain."""
    if rgb.size == 0:
        raise ValueError("an empty patch has no colour")
    pixels = _shrunk(rgb).reshape(-1, 3)
    if background is not None and len(background):
        foreground = _squared_distances(_lab(pixels), background).min(axis=1) > BACKGROUND_DISTANCE**2
        if foreground.mean() >= MIN_FOREGROUND_SHARE:
            pixels = pixels[foreground]
    counts = np.bincount(_names(pixels), minlength=len(COLOR_NAMES))
    best = int(np.argmax(counts * _VOTE_WEIGHTS))
    return ColorName(COLOR_NAMES[best], float(counts[best] / len(pixels)))


def _squared_distances(lab: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Weighted squared CIELAB distances, pixels by references."""
    pixels, others = lab * _WEIGHTS, references * _WEIGHTS
    return (pixels**2).sum(axis=1)[:, None] + (others**2).sum(axis=1)[None, :] - 2 * pixels @ others.T


def _names(rgb: np.ndarray) -> np.ndarray:
    """The index in COLOR_NAMES of each pixel's name."""
    bins = (rgb.reshape(-1, 3).astype(np.uint16) * (_LEVELS - 1) + 127) // 255
    return _NAME_TABLE[(bins[:, 0] * _LEVELS + bins[:, 1]) * _LEVELS + bins[:, 2]]


def _part(frame: np.ndarray, box: Box, part: tuple[float, float, float, float]) -> np.ndarray:
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    left, top = int(x1 + part[0] * width), int(y1 + part[1] * height)
    right, bottom = int(np.ceil(x1 + part[2] * width)), int(np.ceil(y1 + part[3] * height))
    frame_height, frame_width = frame.shape[:2]
    # At least one pixel, within the frame, whatever part of the box lies outside it.
    left, top = min(max(left, 0), frame_width - 1), min(max(top, 0), frame_height - 1)
    right, bottom = min(max(right, left + 1), frame_width), min(max(bottom, top + 1), frame_height)
    return frame[top:bottom, left:right]


def _edge_colors(frame: np.ndarray, box: Box) -> np.ndarray:
    """CIELAB colours along the box's left and right edges, from its top to its bottom."""
    left = _part(frame, box, (0.0, 0.0, EDGE_WIDTH, 1.0))
    right = _part(frame, box, (1.0 - EDGE_WIDTH, 0.0, 1.0, 1.0))
    return np.concatenate([_lab(_shrunk(left)), _lab(_shrunk(right))])


def _shrunk(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = SAMPLE_SIDE / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)


_NAME_TABLE = _name_table()
_VOTE_WEIGHTS = np.array([1.0 if name in MUTED else VIVID_WEIGHT for name in COLOR_NAMES])
