"""A run's tracking state at a checkpoint, as bytes: pickled, with each frame kept for a later
post (`Kept`) written as its stream position and timestamp only, not its pixels. Loading it
gives those `Kept` back empty, by stream position, for the resumed run to fill once it has
decoded the frame again."""

import io
import math
import pickle
from collections import defaultdict
from typing import Any

from vidar_detector.decode import Decoded
from vidar_detector.publishing import Kept

# Bumped when what the detection handler pickles changes shape: an older state is not used.
VERSION = 1

Awaited = defaultdict[int, list[Kept]]


def dump(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer).dump({"version": VERSION, **state})
    return buffer.getvalue()


def load(snapshot: bytes) -> tuple[dict[str, Any], Awaited]:
    """The state, and its kept frames still to decode, by stream position. Raises ValueError for
    a state of another version (unpickling raises its own errors for a damaged one)."""
    unpickler = _Unpickler(io.BytesIO(snapshot))
    state = unpickler.load()
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise ValueError("a tracking state of another version")
    return state, unpickler.awaited


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: object) -> tuple[str, int, float] | None:
        if isinstance(obj, Kept):
            return ("kept", obj.decoded.pts, obj.timestamp)
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self.awaited: Awaited = defaultdict(list)

    def persistent_load(self, pid: Any) -> Kept:
        _, pts, timestamp = pid
        # No frame until it is decoded again; its position stands in, so a state taken before
        # then (a frame the decoder no longer gives) still pickles.
        kept = Kept.__new__(Kept)
        kept.decoded, kept.timestamp = Decoded(None, pts, math.nan), timestamp
        self.awaited[pts].append(kept)
        return kept
