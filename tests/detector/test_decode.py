"""The decoding thread on real footage: every frame, resuming after a checkpoint, bad input."""

import gc
from pathlib import Path

import av
import numpy as np
import pytest

from tests.rotated_clips import rotated_clip, stored_pictures
from vidar_detector.decode import Decoded, FrameSource, NotDecodable


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


# How players show a clip written with `set_display_rotation(degrees, hflip, vflip)`: turned
# counterclockwise, then mirrored (np.rot90 turns counterclockwise).
DISPLAYS = {
    (90, False, False): lambda stored: np.rot90(stored, 1),
    (180, False, False): lambda stored: np.rot90(stored, 2),
    (-90, False, False): lambda stored: np.rot90(stored, -1),
    (0, True, False): lambda stored: stored[:, ::-1],
    (0, False, True): lambda stored: stored[::-1],
    (90, True, False): lambda stored: np.rot90(stored, 1)[:, ::-1],
}


def decoded_of(path: Path, start_pts: int | None = None) -> list[Decoded]:
    with path.open("rb") as file:
        source = FrameSource(file, start_pts=start_pts)
        try:
            return list(source)
        finally:
            source.close()


@pytest.mark.parametrize(("degrees", "hflip", "vflip"), DISPLAYS)
def test_frames_are_upright_as_players_show_them(
    videos: Path, tmp_path: Path, degrees: int, hflip: bool, vflip: bool
) -> None:
    clip = rotated_clip(videos / "carphone_pristine.mp4", tmp_path / "phone.mp4", degrees, hflip=hflip, vflip=vflip)
    if not (hflip or vflip):
        with av.open(str(clip)) as container:
            assert {frame.rotation % 360 for frame in container.decode(video=0)} == {degrees % 360}
    stored = stored_pictures(clip)
    decoded = decoded_of(clip)
    assert [item.pts for item in decoded] == all_pts(clip)
    for item, picture in zip(decoded, stored, strict=True):
        expected = DISPLAYS[degrees, hflip, vflip](picture)
        assert item.display_size == (expected.shape[1], expected.shape[0])
        assert np.array_equal(item.rgb(), expected)


@pytest.mark.parametrize("degrees", [0, 90])
def test_a_handled_frame_is_freed_at_once(videos: Path, tmp_path: Path, degrees: int) -> None:
    """No decoded frame waits for the cyclic garbage collector (reading a frame's side data ties
    it in a cycle: a 720p run's memory grew by about 500 MB when every frame's was read)."""
    clip = rotated_clip(videos / "carphone_pristine.mp4", tmp_path / "phone.mp4", degrees, frames=40)
    gc.collect()
    gc.disable()
    try:
        with clip.open("rb") as file:
            source = FrameSource(file, capacity=2)
            for decoded in source:
                decoded.rgb()
            source.close()
        del decoded
        alive = [item for item in gc.get_objects() if type(item) is av.VideoFrame]
    finally:
        gc.enable()
    assert len(alive) <= 2, "the first frame (its orientation read) and a frame of the decoder's own"


def test_an_unrotated_video_is_given_as_stored(videos: Path) -> None:
    (first, *_) = decoded_of(videos / "carphone_pristine.mp4")
    assert first.display_size == (176, 144)
    assert np.array_equal(first.rgb(), first.frame.to_ndarray(format="rgb24"))


def test_a_resumed_run_of_a_turned_video_begins_on_the_same_frame(videos: Path, tmp_path: Path) -> None:
    """Turning the picture changes no stream position, so a checkpoint names the same frame."""
    clip = rotated_clip(videos / "carphone_pristine.mp4", tmp_path / "phone.mp4", 90, frames=12)
    whole = decoded_of(clip)
    middle = len(whole) // 2 + 1
    resumed = decoded_of(clip, start_pts=whole[middle].pts)
    assert [item.pts for item in resumed] == [item.pts for item in whole[middle:]]
    for again, first_time in zip(resumed, whole[middle:], strict=True):
        assert again.rgb().shape == (176, 144, 3)
        assert np.array_equal(again.rgb(), first_time.rgb())
