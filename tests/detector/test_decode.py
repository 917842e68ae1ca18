"""The decoding thread on real footage: every frame, resuming after a checkpoint, bad input."""

from pathlib import Path

import av
import pytest

from vidar_detector.decode import FrameSource, NotDecodable


def all_pts(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(video=0)]


@pytest.mark.parametrize("name", ["vtest.avi", "carphone_pristine.mp4", "bikes.mp4"])
def test_every_frame_in_order(videos: Path, name: str) -> None:
    with (videos / name).open("rb") as file:
        source = FrameSource(file)
        try:
            seen = [decoded.pts for decoded in source]
        finally:
            source.close()
    assert seen == all_pts(videos / name)


@pytest.mark.parametrize("name", ["vtest.avi", "bikes.mp4"])
def test_starting_mid_stream_begins_with_the_frame_asked_for(videos: Path, name: str) -> None:
    """Between two keyframes too: the decoder seeks back to the keyframe and skips up to it."""
    expected = all_pts(videos / name)
    middle = len(expected) // 2 + 1
    with (videos / name).open("rb") as file:
        source = FrameSource(file, start_pts=expected[middle])
        try:
            rest = [decoded.pts for decoded in source]
        finally:
            source.close()
    assert rest == expected[middle:]


def test_closing_early_stops_the_thread(videos: Path) -> None:
    with (videos / "vtest.avi").open("rb") as file:
        source = FrameSource(file, capacity=2)
        for index, _ in enumerate(source):
            if index == 3:
                break
        source.close()


def test_unknown_format_and_garbage_are_clear_errors(videos: Path, tmp_path: Path) -> None:
    with (videos / "vtest.avi").open("rb") as file, pytest.raises(NotDecodable, match="unknown ffmpeg_format"):
        FrameSource(file, ffmpeg_format="no-such-format")
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"\x00" * 10_000)
    with garbage.open("rb") as file, pytest.raises(NotDecodable, match="cannot be opened"):
        FrameSource(file)
