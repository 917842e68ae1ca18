"""GET /videos/{id}/source/: the stored file through the gateway, whole or by byte range."""

import os

import httpx
import pytest

from tests.stack import Gateway, ServiceProcess
from tests.storage.archives import new_archive, upload
from vidar_gateway.videos.source_stream import SOURCE_COOKIE, ByteRange, Unsatisfiable, parse_range

# Larger than one read of the endpoint (256 KiB), so a range spans reads.
CONTENT = os.urandom(700_000)
SIZE = len(CONTENT)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-10", ByteRange(990, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes = 5-6", ByteRange(5, 6)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=9-3"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


@pytest.fixture(scope="module")
def source_url(gw: Gateway, storage: ServiceProcess) -> str:
    """An uploaded file's URL (storage commits each upload)."""
    with gw.client() as api:
        video_id = new_archive(api, name="range test")
        response = upload(api, video_id, CONTENT)
        assert response.status_code == 201, response.text
    return f"/videos/{video_id}/source/"


def test_whole_file(api: httpx.Client, source_url: str) -> None:
    response = api.get(source_url)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == SIZE


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-1023", 0, 1023),
        ("bytes=300000-500000", 300_000, 500_000),
        ("bytes=-4096", SIZE - 4096, SIZE - 1),
        ("bytes=699000-", 699_000, SIZE - 1),
    ],
    ids=["first bytes", "middle", "suffix", "open end"],
)
def test_byte_ranges(api: httpx.Client, source_url: str, header: str, start: int, end: int) -> None:
    response = api.get(source_url, headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert int(response.headers["content-length"]) == end - start + 1
    assert response.content == CONTENT[start : end + 1]


def test_unsatisfiable_range_is_416(api: httpx.Client, source_url: str) -> None:
    response = api.get(source_url, headers={"Range": f"bytes={SIZE}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"


def test_if_range_of_another_version_gets_the_whole_file(api: httpx.Client, source_url: str) -> None:
    current = api.get(source_url, headers={"Range": "bytes=0-0"}).headers["etag"]
    assert api.get(source_url, headers={"Range": "bytes=0-0", "If-Range": current}).status_code == 206
    stale = api.get(source_url, headers={"Range": "bytes=0-0", "If-Range": '"older"'})
    assert (stale.status_code, len(stale.content)) == (200, SIZE)


@pytest.mark.parametrize("cookie", [None, "wrong-token"])
def test_no_token_or_a_wrong_one_is_401(gw: Gateway, source_url: str, cookie: str | None) -> None:
    cookies = {SOURCE_COOKIE: cookie} if cookie else None
    response = httpx.get(gw.url + source_url, headers={"Range": "bytes=0-9"}, cookies=cookies)
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHORIZED")


def test_the_ui_sign_in_cookie_reads_the_source(gw: Gateway, source_url: str) -> None:
    with httpx.Client(base_url=gw.url) as browser:
        signed_in = browser.post("/ui/session/", headers={"Authorization": f"Token {gw.admin_token}"})
        assert signed_in.json() == {"role": "admin"}
        cookie = signed_in.headers["set-cookie"].lower()
        assert all(part in cookie for part in ("httponly", "samesite=strict", "path=/videos/"))
        response = browser.get(source_url, headers={"Range": "bytes=10-19"})
        assert (response.status_code, response.content) == (206, CONTENT[10:20])
        browser.delete("/ui/session/")
        assert browser.get(source_url).status_code == 401


def test_wrong_token_cannot_sign_in(gw: Gateway) -> None:
    response = httpx.post(gw.url + "/ui/session/", headers={"Authorization": "Token wrong"})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_an_archive_without_a_source_is_404(api: httpx.Client) -> None:
    video_id = new_archive(api, name="no source")
    assert api.get(f"/videos/{video_id}/source/").status_code == 404
