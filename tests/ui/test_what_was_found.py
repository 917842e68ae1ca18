"""The archive page shows what a run found: it opens on a kind that has events, not on an empty
Faces tab, keeps the tab the operator picked while it polls, and its timeline shows every kind's
tracks, each in its own colour, named in a legend."""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.stack import Gateway
from tests.storage.archives import new_archive, probed, upload_file
from tests.ui.conftest import sign_in
from tests.ui.test_operator_flow import PROCESSING_TIMEOUT_MS

# Bodies and cars, no faces. bikes.mp4 (10 s, 640x272) has both, both large: cyclists 116 to 220
# pixels on their shorter side, cars 43 to 197. The size filter is set rather than left to the
# defaults, which are tuned for footage with smaller people: this test is about the page, and its
# tracks should not come and go with that tuning.
BODIES_AND_CARS = {"face": None, "body": {"filter_min_size": 40}, "car": {"filter_min_size": 40}}


def tab(page: Page, kind: str):
    return page.locator(f'.tabs [data-tab="{kind}"]')


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_bodies_and_cars_open_on_bodies_with_every_track(
    page: Page, gw: Gateway, videos: Path, artifacts: Path
) -> None:
    with gw.client() as api:
        video_id = new_archive(api, name="bikes, bodies and cars", stream_settings={"detectors": BODIES_AND_CARS})
        upload_file(api, video_id, videos / "bikes.mp4")
        probed(api, video_id)
    sign_in(page, gw.admin_token)
    page.goto(f"/#/archives/{video_id}")
    # Nothing found yet: the first kind that is on, not Faces, which is off and says so.
    expect(tab(page, "bodies")).to_have_attribute("aria-selected", "true")
    expect(tab(page, "faces")).to_have_text("Faces off")
    expect(page.locator(".timeline-slot")).to_have_text("No tracks yet.")

    # The operator's pick holds while the page polls, even an empty tab the page would leave for
    # one with events had it chosen it itself.
    tab(page, "faces").click()
    page.get_by_role("button", name="Process", exact=True).click()
    status = page.locator(".status-card .chip")
    expect(status).to_have_attribute("data-status", "COMPLETED", timeout=PROCESSING_TIMEOUT_MS)
    expect(tab(page, "faces")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", name="No events")).to_be_visible()
    tab(page, "cars").click()
    expect(page.locator(".event-card .image-holder.loaded").first).to_be_visible()

    with gw.client() as api:
        tracks = {kind: tracks_of(api, video_id, kind) for kind in ("bodies", "cars")}
    assert tracks["bodies"], "bikes.mp4 has cyclists"
    assert tracks["cars"], "bikes.mp4 has cars"
    bars = page.locator(".timeline .track-bar")
    expect(bars).to_have_count(len(tracks["bodies"]) + len(tracks["cars"]))
    expect(page.locator(".track-bar.kind-bodies")).to_have_count(len(tracks["bodies"]))
    expect(page.locator(".track-bar.kind-cars")).to_have_count(len(tracks["cars"]))
    legend = page.get_by_role("list", name="Tracks by kind")
    expect(legend.locator("li")).to_have_text(
        [track_count("Bodies", tracks["bodies"]), track_count("Cars", tracks["cars"])]
    )
    # The two kinds' colours differ, the legend's swatches match the bars.
    colour = "element => getComputedStyle(element).backgroundColor"
    body_colour = page.locator(".track-bar.kind-bodies").first.evaluate(colour)
    car_colour = page.locator(".track-bar.kind-cars").first.evaluate(colour)
    assert body_colour != car_colour
    assert legend.locator(".swatch.kind-bodies").evaluate(colour) == body_colour
    assert legend.locator(".swatch.kind-cars").evaluate(colour) == car_colour
    page.screenshot(path=artifacts / "archive-bodies-and-cars-picked-cars.png", full_page=True)

    # Opened afresh, the page starts on the first kind with events.
    page.reload()
    expect(tab(page, "bodies")).to_have_attribute("aria-selected", "true")
    expect(tab(page, "bodies")).to_have_text(f"Bodies {event_count(gw, video_id, 'bodies')}")
    expect(page.locator(".event-card .image-holder.loaded").first).to_be_visible()
    expect(bars).to_have_count(len(tracks["bodies"]) + len(tracks["cars"]))
    page.screenshot(path=artifacts / "archive-bodies-and-cars.png", full_page=True)


def test_an_archive_with_cars_only_opens_on_cars(page: Page, gw: Gateway) -> None:
    with gw.client() as api:
        video_id = new_archive(
            api, name="cars only", stream_settings={"detectors": {"face": None, "body": None, "car": {}}}
        )
    sign_in(page, gw.admin_token)
    page.goto(f"/#/archives/{video_id}")
    expect(tab(page, "cars")).to_have_attribute("aria-selected", "true")
    expect(tab(page, "bodies")).to_have_text("Bodies off")


def tracks_of(api: httpx.Client, video_id: int, kind: str) -> set[str]:
    events = api.get(f"/events/{kind}/", params={"video_archive": video_id, "limit": 1000}).json()
    assert events["next_page"] is None
    return {event["track"] for event in events["results"]}


def event_count(gw: Gateway, video_id: int, kind: str) -> int:
    with gw.client() as api:
        return api.get(f"/events/{kind}/count/", params={"video_archive": video_id}).json()["count"]


def track_count(label: str, tracks: set[str]) -> str:
    return f"{label} {len(tracks)} track{'' if len(tracks) == 1 else 's'}"
