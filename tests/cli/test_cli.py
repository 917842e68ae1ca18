"""The `vidar` command-line client against the real stack."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from tests.polling import eventually
from tests.scheduler.processing import wait_for
from tests.stack import Gateway
from tests.storage.archives import new_archive
from vidar_cli.config import ConfigError, resolve
from vidar_cli.main import app

FACE_ONLY = json.dumps({"detectors": {"face": {"filter_min_size": 30}}})


@pytest.fixture
def vidar(gw: Gateway, tmp_path: Path):
    """Runs `vidar ARGS` in-process against the test gateway; keyword arguments add or replace
    environment variables (None removes one). No config file unless a test writes one."""

    def run(*args: str, **env: str | None) -> Result:
        base = {"VIDAR_URL": gw.url, "VIDAR_TOKEN": gw.admin_token, "XDG_CONFIG_HOME": str(tmp_path / "config")}
        return CliRunner().invoke(app, list(args), env={**base, "VIDAR_CONFIG": None, **env})

    return run


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_upload_follow_to_completed_and_download_the_face_thumbnails(
    vidar, api: httpx.Client, videos: Path, tmp_path: Path
) -> None:
    path = videos / "carphone_pristine.mp4"
    uploaded = ok(vidar("upload", str(path), "--name", "cli face", "--stream-settings", FACE_ONLY, "--follow"))
    video_id = int(uploaded.stdout.split()[0])
    assert "uploading carphone_pristine.mp4" in uploaded.stderr
    assert f"archive {video_id} COMPLETED" in uploaded.stderr
    done = api.get(f"/videos/{video_id}/").json()
    assert (done["name"], done["file_size"], done["health_status"]["status"]) == (
        "cli face",
        path.stat().st_size,
        "COMPLETED",
    )

    # Detections are recorded by the storage service as they arrive: wait for all of them.
    posted = done["health_status"]["statistic"]["objects"]["face"]["posted"]
    assert posted >= 1
    count = f"/events/faces/count/?video_archive={video_id}"
    eventually(lambda: api.get(count).json()["count"] == posted, what="the face events to be recorded")

    out = tmp_path / "faces"
    listed = ok(vidar("events", str(video_id), "--type", "faces", "--out", str(out)))
    events = json.loads((out / "events.json").read_text())
    assert len(events) == posted
    for event in events:
        assert event["id"] in listed.stdout
        image = Image.open(io.BytesIO((out / f"{event['id']}.jpg").read_bytes()))
        assert image.format == "JPEG"


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_process_then_stop(vidar, api: httpx.Client, videos: Path) -> None:
    # Real time and no detectors: the run lasts seconds, long enough to be stopped.
    slow = json.dumps({"detectors": {"face": None}, "play_speed": 1})
    uploaded = ok(vidar("upload", str(videos / "carphone_pristine.mp4"), "--stream-settings", slow))
    video_id = uploaded.stdout.split()[0]
    assert "processing requested" in ok(vidar("process", video_id)).stderr
    wait_for(api, int(video_id), "QUEUED", "INPROGRESS")
    again = vidar("process", video_id)
    assert again.exit_code == 1
    assert "409 CONFLICT" in again.stderr
    assert "stop requested" in ok(vidar("stop", video_id)).stderr
    wait_for(api, int(video_id), "STOPPED")
    shown = json.loads(ok(vidar("show", video_id)).stdout)
    assert (shown["id"], shown["health_status"]["status"]) == (int(video_id), "STOPPED")
    assert "nothing to stop" in ok(vidar("stop", video_id)).stderr


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_follow_waits_for_the_new_run_not_the_last_ones_end(vidar, api: httpx.Client, videos: Path) -> None:
    quick = json.dumps({"detectors": {"face": None}})
    video_id = ok(vidar("upload", str(videos / "carphone_pristine.mp4"), "--stream-settings", quick)).stdout.split()[0]
    for run in (1, 2):
        followed = ok(vidar("process", video_id, "--follow"))
        assert f"archive {video_id} COMPLETED" in followed.stderr
        assert api.get(f"/videos/{video_id}/").json()["health_status"]["statistic"]["job_starts"] == run


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_follow_joins_a_run_under_way(vidar, api: httpx.Client, videos: Path) -> None:
    real_time = json.dumps({"detectors": {"face": None}, "play_speed": 1})
    video_id = ok(
        vidar("upload", str(videos / "carphone_pristine.mp4"), "--stream-settings", real_time)
    ).stdout.split()[0]
    ok(vidar("process", video_id))
    wait_for(api, int(video_id), "QUEUED", "INPROGRESS")
    followed = ok(vidar("process", video_id, "--follow"))
    assert "already: following its run" in followed.stderr
    assert f"archive {video_id} COMPLETED" in followed.stderr
    assert api.get(f"/videos/{video_id}/").json()["health_status"]["statistic"]["job_starts"] == 1


def test_ls_filters_pages_and_tables(vidar, api: httpx.Client, camera_group: int) -> None:
    first = new_archive(api, camera_group=camera_group, name="cli list one")
    second = new_archive(api, camera_group=camera_group, name="cli list two")
    group = str(camera_group)

    def ids(*args: str) -> list[int]:
        result = ok(vidar("ls", "--camera-group", group, "--json", *args))
        return [json.loads(line)["id"] for line in result.stdout.splitlines()]

    assert ids() == [second, first]
    assert ids("--ordering", "id", "--limit", "1", "--all") == [first, second]
    one_page = ok(vidar("ls", "--camera-group", group, "--json", "--limit", "1"))
    assert len(one_page.stdout.splitlines()) == 1
    assert "--all" in one_page.stderr
    assert ids("--name", "TWO") == [second]
    assert ids("--filter", f"id_in={first}") == [first]
    table = ok(vidar("ls", "--camera-group", group)).stdout
    assert "cli list one" in table
    assert str(second) in table


def test_api_errors_are_one_clear_line_and_a_non_zero_exit(vidar) -> None:
    unknown = vidar("ls", "--filter", "bogus=1")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == "error: 400 BAD_PARAM: bogus: unknown parameter"
    missing = vidar("show", "987654321")
    assert missing.exit_code == 1
    assert "404 NOT_FOUND" in missing.stderr
    kind = vidar("events", "1", "--type", "face")
    assert kind.exit_code == 1
    assert kind.stderr.startswith("error: 400 BAD_PARAM: object_type:")
    assert "'faces'" in kind.stderr


@pytest.mark.usefixtures("scheduler")
def test_status_is_checked_against_the_apis_statuses(vidar, api: httpx.Client, camera_group: int) -> None:
    archive = new_archive(api, camera_group=camera_group, name="cli status")
    group = str(camera_group)
    # Once the scheduler has seen it: the status stays put until processing is asked for.
    wait_for(api, archive, "NOT_STARTED")
    listed = ok(vidar("ls", "--camera-group", group, "--status", "NOT_STARTED", "--json")).stdout.splitlines()
    assert [json.loads(line)["id"] for line in listed] == [archive]
    assert ok(vidar("ls", "--camera-group", group, "--status", "FAILED", "--json")).stdout == ""
    misspelt = vidar("ls", "--status", "COMPLETE")
    assert misspelt.exit_code == 2
    # typer boxes the message and wraps it at the terminal's width: look for its words.
    assert all(word in misspelt.stderr for word in ("'COMPLETE' is not one of", "NOT_STARTED", "STOPPED"))


def test_a_bad_token_is_reported_without_a_traceback(gw: Gateway, tmp_path: Path) -> None:
    """The installed `vidar` script, as an operator runs it."""
    script = Path(sys.executable).parent / "vidar"
    env = {**os.environ, "VIDAR_URL": gw.url, "VIDAR_TOKEN": "not-a-token", "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([str(script), "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "401 UNAUTHORIZED" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_flags_beat_the_environment_which_beats_the_config_file(vidar, gw: Gateway, tmp_path: Path) -> None:
    config = tmp_path / "vidar.toml"
    config.write_text(f'url = "{gw.url}"\ntoken = "{gw.admin_token}"\n')
    from_file = {"VIDAR_CONFIG": str(config), "VIDAR_URL": None, "VIDAR_TOKEN": None}
    ok(vidar("ls", "--limit", "1", **from_file))
    assert "401" in vidar("ls", **{**from_file, "VIDAR_TOKEN": "wrong"}).stderr
    ok(vidar("--token", gw.admin_token, "ls", "--limit", "1", **{**from_file, "VIDAR_TOKEN": "wrong"}))


def test_resolve_without_a_token_says_where_to_put_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("VIDAR_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="VIDAR_TOKEN"):
        resolve(None, None)
    assert resolve("http://example.test:8000/", "t").url == "http://example.test:8000"
    monkeypatch.setenv("VIDAR_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(None, None)


def test_a_viewer_token_from_the_gateways_command_reads_but_cannot_upload(vidar, gw: Gateway, videos: Path) -> None:
    """The README's way to a token for the CLI: `vidar-gateway token create`, where MongoDB is."""
    program = Path(sys.executable).parent / "vidar-gateway"
    command = [str(program), "token", "create", "--role", "viewer", "--name", "cli test"]
    created = subprocess.run(command, env={**os.environ, **gw.env}, capture_output=True, text=True, check=True)
    token = created.stdout.strip()
    ok(vidar("ls", "--limit", "1", VIDAR_TOKEN=token))
    refused = vidar("upload", str(videos / "carphone_pristine.mp4"), VIDAR_TOKEN=token)
    assert refused.exit_code == 1
    assert "403 PERMISSION_DENIED" in refused.stderr


def test_tokens_are_the_gateways_business() -> None:
    help_text = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert "vidar-gateway token create" in help_text
    assert CliRunner().invoke(app, ["token", "create"]).exit_code == 2


@pytest.mark.usefixtures("detector")
def test_detect_lists_the_objects_of_a_photo_with_their_ids(
    vidar, api: httpx.Client, videos: Path, tmp_path: Path
) -> None:
    found = ok(vidar("detect", str(videos / "faces" / "obama.jpg")))
    (face,) = [line.split() for line in found.stdout.splitlines() if line.startswith("face ")]
    # The id is the API's: a search takes it as it is.
    assert api.get("/events/faces/", params={"looks_like": f"detection:{face[1]}"}).status_code == 200
    answer = json.loads(ok(vidar("detect", "--json", str(videos / "faces" / "obama.jpg"))).stdout)
    assert (answer["orientation"], len(answer["objects"]["face"])) == (1, 1)

    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    refused = vidar("detect", str(text))
    assert refused.exit_code == 1
    assert "not a JPEG, PNG or WebP" in refused.stderr
