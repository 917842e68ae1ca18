"""The address checks of URL sources, on IP literals (no DNS, no connection)."""

import pytest

from vidar.urlguard import Allowlist, UrlRefused, check

NOBODY = Allowlist.parse([])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/a.mp4", "loopback"),
        ("http://[::1]/a.mp4", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.5/a.mp4", "private"),
        ("http://192.168.1.20:8080/a.mp4", "private"),
        ("http://100.64.0.1/a.mp4", "reserved"),
        ("http://0.0.0.0/a.mp4", "unspecified"),
        ("http://[fd00:ec2::254]/", "private"),
        ("ftp://93.184.216.34/a.mp4", "only http and https"),
    ],
)
async def test_non_public_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        await check(url, NOBODY)


async def test_public_addresses_pass() -> None:
    await check("https://93.184.216.34/video.mp4", NOBODY)


async def test_the_allowlist_admits_networks_and_hosts() -> None:
    allowlist = Allowlist.parse(["10.0.0.0/8", "127.0.0.1"])
    await check("http://10.20.30.40/a.mp4", allowlist)
    await check("http://127.0.0.1:8000/a.mp4", allowlist)
    with pytest.raises(UrlRefused):
        await check("http://127.0.0.2/a.mp4", allowlist)
