"""The web UI in a real browser: an operator's whole path, a viewer's limits, a wrong token, /docs offline."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.stack import Gateway
from tests.storage.archives import new_archive, probed, upload_file
from tests.ui.conftest import sign_in

PROCESSING_TIMEOUT_MS = 120_000


def test_wrong_token_is_told_plainly(page: Page, artifacts: Path) -> None:
    sign_in(page, "not-a-real-token")
    expect(page.get_by_role("alert")).to_contain_text("This token is not valid")
    expect(page.get_by_label("API token")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=artifacts / "sign-in-wrong-token.png")


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_operator_uploads_processes_and_reviews_a_face(page: Page, gw: Gateway, videos: Path, artifacts: Path) -> None:
    sign_in(page, gw.admin_token)
    expect(page.get_by_role("heading", name="Archives", exact=True)).to_be_visible()

    page.get_by_role("link", name="New archive").first.click()
    page.get_by_label("Name").fill("carphone, front desk")
    page.get_by_label("Min size, px").fill("30")
    page.locator("#source-file").set_input_files(videos / "carphone_pristine.mp4")
    page.get_by_role("button", name="Create archive").click()
    upload = page.get_by_role("progressbar", name="Upload progress")
    expect(upload).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(".upload-detail")).to_contain_text("uploaded")
    page.screenshot(path=artifacts / "new-archive-uploaded.png", full_page=True)

    page.get_by_role("link", name="Open archive").click()
    page.get_by_role("button", name="Process", exact=True).click()
    # The page polls the API: no reload between the click and the finished run.
    status = page.locator(".status-card .chip")
    expect(status).to_have_attribute("data-status", "COMPLETED", timeout=PROCESSING_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Process again")).to_be_visible()
    first_event = page.locator(".event-card").first
    expect(first_event).to_be_visible()
    expect(page.locator(".track-bar").first).to_be_visible()
    expect(page.locator(".event-card .image-holder.loaded").first).to_be_visible()
    page.screenshot(path=artifacts / "archive.png", full_page=True)

    first_event.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".event-thumb-holder.loaded")).to_be_visible()
    expect(dialog.locator(".full-frame-holder.loaded")).to_be_visible()
    expect(dialog.locator(".bbox")).to_be_visible()
    assert dialog.locator(".full-frame-holder img").evaluate("image => image.naturalWidth") > 0
    page.screenshot(path=artifacts / "event.png")
    event_id = page.evaluate("decodeURIComponent(location.hash.split('/').pop())")
    with gw.client() as api:
        stream_time = api.get(f"/events/faces/{event_id}/").json()["stream_time"]

    dialog.get_by_role("button", name="Play from here").click()
    expect(dialog).to_be_hidden()
    player = page.locator("video#player")
    player.evaluate("video => video.pause()")
    # The source endpoint served the metadata through the cookie, so the player knows the length.
    assert player.evaluate("video => video.readyState") >= 1
    assert player.evaluate("video => video.duration") == pytest.approx(4.0, abs=0.2)
    assert player.evaluate("video => video.currentTime") == pytest.approx(stream_time, abs=0.5)

    page.get_by_role("link", name="Archives").first.click()
    row = page.locator("tbody tr").filter(has_text="carphone, front desk")
    expect(row.locator(".chip")).to_have_text("Completed")
    expect(row.locator(".shot-holder.loaded")).to_be_visible()
    page.screenshot(path=artifacts / "archives.png")


@pytest.fixture(scope="module")
def uploaded_archive(gw: Gateway, videos: Path) -> int:
    with gw.client() as api:
        video_id = new_archive(api, name="viewer's view")
        upload_file(api, video_id, videos / "carphone_pristine.mp4")
        probed(api, video_id)
    return video_id


@pytest.mark.usefixtures("storage")
def test_a_viewer_sees_no_write_controls(page: Page, viewer_token: str, uploaded_archive: int, artifacts: Path) -> None:
    sign_in(page, viewer_token)
    expect(page.locator("#role")).to_have_text("viewer")
    expect(page.get_by_role("link", name="New archive")).to_have_count(0)
    page.goto(f"/#/archives/{uploaded_archive}")
    expect(page.get_by_role("heading", name="viewer's view")).to_be_visible()
    expect(page.get_by_role("button", name="Process")).to_have_count(0)
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    page.screenshot(path=artifacts / "archive-viewer.png")


@pytest.mark.usefixtures("storage")
def test_an_operator_sees_the_process_button(page: Page, gw: Gateway, uploaded_archive: int) -> None:
    sign_in(page, gw.admin_token)
    page.goto(f"/#/archives/{uploaded_archive}")
    expect(page.get_by_role("button", name="Process", exact=True)).to_be_enabled()


def test_a_400_is_shown_on_its_field(page: Page, gw: Gateway) -> None:
    sign_in(page, gw.admin_token)
    page.goto("/#/new")
    page.get_by_label("Name").fill("bad roi")
    page.get_by_label("Region of interest").fill("everything")
    page.get_by_role("button", name="Create archive").click()
    roi = page.get_by_label("Region of interest")
    expect(roi).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-field="roi"] .field-error')).to_contain_text("roi")


def test_docs_render_with_no_network_beyond_loopback(page: Page, gw: Gateway, artifacts: Path) -> None:
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    expect(page.get_by_text("/videos/{video_id}/source/").first).to_be_attached()
    assert outside == []
    page.screenshot(path=artifacts / "docs.png")
