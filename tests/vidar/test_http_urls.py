"""The OpenAPI schema of `url` and `router_url` promises no more than the API accepts: every URL its
pattern allows is valid (issue 24: "http://" matched the schema and was refused)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from vidar.models.video import HTTP_URL_PATTERN, HttpUrl

URL = TypeAdapter(HttpUrl)


@settings(max_examples=400, deadline=None)
@given(url=st.from_regex(HTTP_URL_PATTERN, fullmatch=True).filter(lambda url: len(url) <= 2048))
def test_every_url_the_schema_allows_is_accepted(url: str) -> None:
    assert URL.validate_python(url) == url


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:18811/", "https://findface.example.com/router?x=1#y", "http://localhost", "http://a-b.c:0"]
)
def test_router_urls_of_findface_deployments_match_the_schema(url: str) -> None:
    assert URL.validate_python(url) == url


@pytest.mark.parametrize("url", ["http://", "https://", "http://:80", "http://999.1.1.1", "http://a:65536", "ftp://a"])
def test_urls_the_api_refuses_are_outside_the_schema(url: str) -> None:
    with pytest.raises(ValidationError):
        URL.validate_python(url)
