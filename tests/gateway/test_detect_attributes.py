"""POST /detect/ through the HTTP API describes what it finds (issue 26): a known face comes back
with its age and gender in `features`."""

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("detector")

# obama.jpg: the portrait of a man aged 51.
PORTRAIT_AGES = range(45, 59)


def test_a_known_face_comes_back_with_its_age_and_gender(api: httpx.Client, videos: Path) -> None:
    photo = videos / "faces" / "obama.jpg"
    response = api.post("/detect/", content=photo.read_bytes(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    (face,) = response.json()["objects"]["face"]
    features = face["features"]
    assert features["gender"]["name"] == "male"
    assert features["age"]["name"] in PORTRAIT_AGES
    assert 0 < features["gender"]["confidence"] <= 1
    assert 0 < features["age"]["confidence"] <= 1
