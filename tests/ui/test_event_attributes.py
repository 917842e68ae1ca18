"""What was seen, in the browser (issue 26): each event card shows its attributes (colour swatches,
age and gender, plate), the events grid filters by them, and the event dialog lists them."""

from pathlib import Path

import httpx
from minio import Minio
from playwright.sync_api import Page, expect
from pymongo.database import Database

from tests.gateway.test_detection_events import Archive
from tests.gateway.test_detection_events import s3 as s3  # a fixture
from tests.gateway.test_event_attributes import body, car, face
from tests.stack import Gateway
from tests.ui.conftest import sign_in


def test_events_grid_filters_by_attributes(
    page: Page, gw: Gateway, api: httpx.Client, db: Database, s3: Minio, camera_group: int, artifacts: Path
) -> None:
    video = Archive(api, db, s3, camera_group)
    red_tops = [video.event(kind="body", track=f"1-{n}", features=body("red", "blue")) for n in range(2)]
    video.event(kind="body", track="1-5", features=body("green", "black"))
    video.event(kind="body", track="1-6")
    video.event(kind="face", features=face(41, "female", "happy"))
    video.event(kind="car", features=car("white", "AB777C"))
    sign_in(page, gw.admin_token)
    page.goto(f"/#/archives/{video.id}")
    page.locator('.tabs [data-tab="bodies"]').click()
    cards = page.locator(".event-card")
    expect(cards).to_have_count(4)
    expect(page.locator('.event-card .color-swatch[data-color="red"]')).to_have_count(2)

    page.get_by_label("Top", exact=True).select_option("red")
    expect(cards).to_have_count(2)
    expect(page.locator(".toolbar .muted")).to_have_text("2 of 2")
    assert sorted(cards.evaluate_all("cards => cards.map(card => card.dataset.eventId)")) == sorted(red_tops)
    page.screenshot(path=artifacts / "events-filtered-by-top-colour.png", full_page=True)
    page.get_by_label("Bottom", exact=True).select_option("black")
    expect(page.get_by_role("heading", name="No events")).to_be_visible()

    page.locator('.tabs [data-tab="faces"]').click()
    expect(cards.first.locator(".attributes")).to_have_text("F 41happy")
    page.get_by_label("Gender", exact=True).select_option("male")
    expect(page.get_by_role("heading", name="No events")).to_be_visible()
    page.get_by_label("Gender", exact=True).select_option("female")
    expect(cards).to_have_count(1)
    page.screenshot(path=artifacts / "faces-filtered-by-gender.png", full_page=True)

    page.locator('.tabs [data-tab="cars"]').click()
    page.get_by_label("Plate contains").fill("b77")
    page.get_by_label("Plate contains").press("Enter")
    expect(cards).to_have_count(1)
    expect(cards.first.locator(".plate")).to_have_text("AB777C")
    cards.first.click()
    dialog = page.locator(".event-dialog")
    expect(dialog.locator("dd", has_text="AB777C (70%)")).to_be_visible()
    expect(dialog.locator("dd", has_text="white (90%)")).to_be_visible()
    page.screenshot(path=artifacts / "car-event-with-attributes.png", full_page=True)
