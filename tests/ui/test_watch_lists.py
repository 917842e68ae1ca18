"""Watch lists, records and alerts in the browser (issue 27, part 6): an admin makes a list, makes a
record from an event's "Add to record", another archive is processed (faces posted as a detector
posts them), and the alert shows, as does the record's appearance on its archive's timeline."""

import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.detector.test_clustering_e2e import carphone
from tests.gateway.test_detection_events import Archive
from tests.gateway.test_matching import Scene, a_person, seen_again
from tests.gateway.test_matching import scene as scene  # a fixture
from tests.stack import Gateway
from tests.ui.conftest import sign_in

LIST_NAME = "Wanted in the UI"


def only_the_page_s_lists_active(api: httpx.Client) -> None:
    """Other tests' watch lists, on the session's database, turned off: the alert's record is then
    the one this test makes, whatever records they left."""
    for watch_list in api.get("/watch-lists/", params={"limit": 100}).json()["results"]:
        assert api.patch(f"/watch-lists/{watch_list['id']}/", json={"active": False}).status_code == 200


def new_list_in_the_page(page: Page) -> None:
    page.goto("/#/watch-lists")
    page.get_by_role("button", name="New watch list").click()
    form = page.locator(".watch-list-form")
    form.get_by_label("Name", exact=True).fill(LIST_NAME)
    form.get_by_label("Matches must be acknowledged").check()
    form.get_by_label("Face", exact=True).fill("0.6")
    form.get_by_role("button", name="Create").click()
    row = page.locator("tr", has_text=LIST_NAME)
    expect(row).to_contain_text("Face 0.6")
    row.get_by_role("button", name="Edit").click()
    form.get_by_label("Body", exact=True).fill("0.9")
    form.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Face 0.6 · Body 0.9")


@pytest.fixture(scope="module")
def man_photo(videos: Path) -> bytes:
    """carphone's man cropped from a frame: one face."""
    photo = io.BytesIO()
    Image.fromarray(carphone(videos)[60]).crop((20, 0, 156, 144)).save(photo, format="JPEG", quality=90)
    return photo.getvalue()


@pytest.mark.usefixtures("detector")  # finds the face in an uploaded photo
def test_a_record_made_from_an_event_is_alerted_in_another_archive(
    page: Page, gw: Gateway, scene: Scene, man_photo: bytes, artifacts: Path
) -> None:
    only_the_page_s_lists_active(scene.api)
    person = a_person()
    first = Archive(scene.api, scene.db, scene.s3, scene.camera_group)
    event_id = first.event()
    scene.db.detections.update_one({"_id": event_id}, {"$set": {"embedding": person.tolist()}})
    sign_in(page, gw.admin_token)
    new_list_in_the_page(page)
    page.screenshot(path=artifacts / "watch-lists.png", full_page=True)

    page.goto(f"/#/archives/{first.id}/faces/{event_id}")
    dialog = page.locator(".event-dialog")
    dialog.locator("summary", has_text="Add to record").click()
    expect(dialog.get_by_label("Record", exact=True)).to_have_value("new")
    dialog.get_by_label("Name", exact=True).fill("the man")
    for box in dialog.locator(".new-record input[type=checkbox]").all():
        box.uncheck()
    dialog.locator(".new-record label", has_text=LIST_NAME).get_by_role("checkbox").check()
    page.screenshot(path=artifacts / "add-to-record.png", full_page=True)
    dialog.get_by_role("button", name="Add to record").click()
    expect(page.locator(".record h1")).to_have_text("the man")
    expect(page.locator(".photo .image-holder.loaded")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"#/records/humans/\d+$"))
    card_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_role("button", name="Edit").click()
    page.locator(".record-form").get_by_label("Comment").fill("seen with a phone")
    page.locator(".record-form").get_by_role("button", name="Save").click()
    expect(page.locator(".record-comment")).to_have_text("seen with a phone")
    # A second photo from a file: carphone's man, found and embedded as POST /detect/ does.
    page.get_by_label("Photo file").set_input_files({"name": "man.jpg", "mimeType": "image/jpeg", "buffer": man_photo})
    page.get_by_role("button", name="Add photo").click()
    expect(page.locator(".photo .image-holder.loaded")).to_have_count(2, timeout=30_000)

    # The alerts page is open when the other archive is processed: the alert comes in live.
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    video_id, run_id = scene.archive()
    # Posted from another thread: Playwright's sync API runs its event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        [seen] = thread.submit(scene.post, video_id, run_id, [seen_again(person)]).result()
    alert = page.locator(f'.alert[data-event-id="{seen}"]')
    expect(alert).to_be_visible(timeout=30_000)
    match = scene.matched(seen)
    assert match["matched_card"] == card_id
    [list_id] = match["matched_lists"]
    expect(alert.locator(".alert-record")).to_have_text("the man")
    expect(alert.locator(".list-chip")).to_have_text(LIST_NAME)
    expect(alert.locator(".confidence")).to_have_text(f"{match['confidence']:.2f}")
    page.screenshot(path=artifacts / "alerts.png", full_page=True)
    alert.get_by_role("button", name="Acknowledge").click()
    expect(alert.locator(".chip-green")).to_contain_text("Acknowledged by")
    expect(alert.get_by_role("button", name="Acknowledge")).to_have_count(0)

    alert.locator(".alert-record").click()
    lane = page.locator(f'.appearance-archive[data-archive="{video_id}"]')
    expect(lane).to_contain_text("1 appearance")
    lane.locator(f'.appearance-strip [data-event-id="{seen}"]').click()
    expect(page.locator(".event-dialog .matched-record")).to_have_text("the man")
    page.screenshot(path=artifacts / "record-appearances-event.png", full_page=True)
    page.locator(".event-dialog").get_by_role("button", name="Close").click()
    page.screenshot(path=artifacts / "record.png", full_page=True)

    page.get_by_role("link", name="Records", exact=True).click()
    page.get_by_label("Search by name").fill("the m")
    page.get_by_label("Watch list").select_option(label=LIST_NAME)
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr .title-link")).to_have_text("the man")
    page.screenshot(path=artifacts / "records.png", full_page=True)

    # A list that records are on is not deleted: the page says why (the API's 409).
    page.get_by_role("link", name="Watch lists", exact=True).click()
    page.once("dialog", lambda confirm: confirm.accept())
    page.locator("tr", has_text=LIST_NAME).get_by_role("button", name="Delete").click()
    expect(page.locator(".toast-error")).to_contain_text(f"human record {card_id}")
    expect(page.locator("tr", has_text=LIST_NAME)).to_have_count(1)
    page.get_by_role("link", name=LIST_NAME).click()
    expect(page.get_by_label("Watch list")).to_have_value(str(list_id))
    expect(page.locator("tbody tr .title-link")).to_have_text("the man")


def test_a_viewer_sees_lists_records_and_alerts_without_write_controls(
    page: Page, gw: Gateway, viewer_token: str
) -> None:
    sign_in(page, viewer_token)
    page.get_by_role("link", name="Watch lists", exact=True).click()
    expect(page.get_by_role("heading", name="Watch lists")).to_be_visible()
    expect(page.get_by_role("button", name="New watch list")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    page.get_by_role("link", name="Records", exact=True).click()
    expect(page.get_by_role("heading", name="Records")).to_be_visible()
    expect(page.get_by_role("button", name="New person")).to_have_count(0)
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
