"""Boxes and rectangles in pixels of a frame, and the pieces of a frame they cut out."""

import re
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
_GEOMETRY = re.compile(r"^(\d+)x(\d+)\+(\d+)\+(\d+)$")


def iou(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0


@dataclass(frozen=True)
class Rectangle:
    width: int
    height: int
    x: int
    y: int

    @classmethod
    def parse(cls, geometry: str) -> "Rectangle | None":
        """`WxH+X+Y`, or None for "" (the whole frame)."""
        if not geometry:
            return None
        match = _GEOMETRY.match(geometry)
        if match is None:
            raise ValueError(f"{geometry!r} is not WxH+X+Y")
        return cls(*(int(group) for group in match.groups()))

    def check_inside(self, width: int, height: int, name: str) -> None:
        if self.width == 0 or self.height == 0 or self.x + self.width > width or self.y + self.height > height:
            raise ValueError(
                f"{name} {self.width}x{self.height}+{self.x}+{self.y} is not inside the {width}x{height} frame"
            )


def crop(image: np.ndarray, area: Rectangle | None) -> np.ndarray:
    if area is None:
        return image
    return image[area.y : area.y + area.height, area.x : area.x + area.width]


def cut(image: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """The box, widened by `margin` of its size on every side, within the image."""
    x1, y1, x2, y2 = box
    margin_x, margin_y = (x2 - x1) * margin, (y2 - y1) * margin
    height, width = image.shape[:2]
    left, top = max(0, int(x1 - margin_x)), max(0, int(y1 - margin_y))
    right, bottom = min(width, int(x2 + margin_x) + 1), min(height, int(y2 + margin_y) + 1)
    return image[top:bottom, left:right]
