"""docs/configuration.md is generated from the settings classes, and says what every setting means."""

from tests import configuration_doc


def test_the_document_is_current() -> None:
    assert configuration_doc.DOCUMENT.read_text() == configuration_doc.document(), "run `make docs`"


def test_every_setting_says_what_it_means() -> None:
    rows = [line for line in configuration_doc.document().splitlines() if line.startswith("| `VIDAR_")]
    unexplained = [row.split(" | ")[0].strip("| `") for row in rows if row.endswith("|  |")]
    assert rows
    assert unexplained == [], "add a comment above each of these fields in its settings class"
