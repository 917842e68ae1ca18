"""docs/asyncapi.json is the event contract outside consumers read: it must match the code."""

from tests.asyncapi import DOCUMENT, document


def test_the_checked_in_asyncapi_document_matches_the_code() -> None:
    assert DOCUMENT.read_text() == document(), "run `make docs` and commit docs/asyncapi.json"
