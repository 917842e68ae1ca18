"""Keys read back from stored documents and events are checked against the prefix they must have."""

import pytest

from vidar import archive

RUN = archive.tracking_state(5, "run-1", "")


@pytest.mark.parametrize(
    ("key", "under"),
    [
        (archive.tracking_state(5, "run-1", "2-7"), True),
        (archive.tracking_state(5, "run-2", "2-7"), False),  # another run of the same archive
        (archive.tracking_state(6, "run-1", "2-7"), False),  # another archive
        (f"{RUN}../../../6/tracking/run-1/2-7", False),  # a file-system S3 resolves ".."
        (f"{RUN}./2-7", False),
        (f"{RUN}a//b", False),
        (RUN, False),  # the prefix itself names no object
        (f"{RUN}2-7\n", False),
        (f"{RUN}{'a' * 2000}", False),
        ("videos/5/screenshot.jpg", False),
    ],
)
def test_a_key_is_under_its_prefix_only_with_plain_segments(key: str, under: bool) -> None:
    assert archive.is_under(key, RUN) is under


def test_a_source_key_is_its_own_archives() -> None:
    key = archive.new_source_key(5)
    assert archive.is_source_of(key, 5)
    assert not archive.is_source_of(key, 6)
    assert not archive.is_source_of("videos/5/source/../../6/source/abc", 5)
    assert not archive.is_source_of(archive.screenshot_key(5), 5)


def test_detect_uploads_are_outside_every_archive() -> None:
    key = archive.detect_upload_key()
    assert archive.is_under(key, archive.DETECT_UPLOADS)
    assert not archive.is_under(archive.screenshot_key(5), archive.DETECT_UPLOADS)
