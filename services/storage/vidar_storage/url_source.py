"""Fetching a `url` source safely: the address rules of `vidar.urlguard` at every redirect, a
size limit and timeouts; the body streams into object storage."""

from urllib.parse import urljoin

import httpx

from vidar.urlguard import Allowlist, UrlRefused, check

MAX_REDIRECTS = 5


async def open_download(client: httpx.AsyncClient, url: str, allowlist: Allowlist) -> httpx.Response:
    """The streamed response of the last hop; redirects are followed by hand so each target is
    checked. The caller reads the body and closes the response."""
    for _ in range(MAX_REDIRECTS + 1):
        await check(url, allowlist)
        response = await client.send(client.build_request("GET", url), stream=True)
        if response.is_redirect and "location" in response.headers:
            await response.aclose()
            url = urljoin(url, response.headers["location"])
            continue
        if response.status_code != 200:
            await response.aclose()
            raise UrlRefused(
                f"Could not fetch {url}: the server answered {response.status_code} {response.reason_phrase}."
            )
        return response
    raise UrlRefused(f"Could not fetch the URL: more than {MAX_REDIRECTS} redirects.")
