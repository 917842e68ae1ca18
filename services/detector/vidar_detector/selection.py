"""Which detections count, and how good each sighting is for the best frame of its track."""

from vidar.models.stream_settings import KindSettings
from vidar_detector.geometry import Box

# A box this close (pixels) to the frame's edge is taken as cut by it.
EDGE_MARGIN = 2
# Quality of a cut box relative to a whole one: a partial face or body makes a poor best frame.
CUT_PENALTY = 0.5


def passes_filters(box: Box, score: float, settings: KindSettings) -> bool:
    """`filter_min_size` applies to the box's shorter side, `filter_max_size` to its longer
    side; `filter_min_quality` to the detector's score."""
    return fits_size(box, settings) and score >= settings.filter_min_quality


def fits_size(box: Box, settings: KindSettings) -> bool:
    width, height = box[2] - box[0], box[3] - box[1]
    return min(width, height) >= settings.filter_min_size and max(width, height) <= settings.filter_max_size


def quality(box: Box, score: float, frame_width: int, frame_height: int) -> float:
    """The detector's score, penalised when the box touches the frame's edge."""
    cut = (
        box[0] <= EDGE_MARGIN
        or box[1] <= EDGE_MARGIN
        or box[2] >= frame_width - EDGE_MARGIN
        or box[3] >= frame_height - EDGE_MARGIN
    )
    return score * CUT_PENALTY if cut else score
