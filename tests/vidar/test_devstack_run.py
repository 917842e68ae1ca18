"""`make run` (vidar.devstack.run): the whole stack comes up under supervisord and says where it
is; a process killed -9 is started again while the others keep running, and a video processed
meanwhile completes with the same events as a clean run, and is clustered; Ctrl-C or SIGTERM
stops everything and `kill -9` of `make run` itself takes everything with it."""

import configparser
import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from xmlrpc.client import ServerProxy

import av
import httpx
import pytest
from supervisor.xmlrpc import SupervisorTransport

from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for, wait_for_frames
from vidar.devstack.prefixed_output import LinePrefixer
from vidar.devstack.supervision import SERVERS_GROUP, SERVICES_GROUP, Program, Supervision

pytestmark = pytest.mark.integration

SERVERS = ("nats", "mongo", "s3")
SERVICES = ("gateway", "storage", "scheduler", "detector")
GROUPS = {name: SERVERS_GROUP for name in SERVERS} | {name: SERVICES_GROUP for name in SERVICES}


class MakeRun:
    """One `python -m vidar.devstack.run --free-ports`, its output read as it comes (a full pipe
    would block supervisord), and every process it started known by PID."""

    def __init__(self, data_dir: Path) -> None:
        command = [sys.executable, "-u", "-m", "vidar.devstack.run", "--free-ports", "--data-dir", str(data_dir)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._data_dir = data_dir
        # In the order to stop them in, each with its name.
        self.started: dict[int, str] = {self.process.pid: "make run"}

    def wait_until_ready(self) -> None:
        banner = eventually(lambda: "Ctrl-C stops everything" in self.output and self.output, timeout=180)
        self.api_url = re.search(r"API:\s+(\S+)/videos/", banner).group(1)
        self.token = re.search(r"admin token:\s+(\S+)", banner).group(1)
        self.supervisor = control(Supervision(self._data_dir).config_path)
        self.pids()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Token {self.token}"}, timeout=30)

    def pids(self) -> dict[str, int]:
        """Every process supervisord runs, by name, supervisord itself as "supervisord"."""
        running = {"supervisord": self.supervisor.supervisor.getPID()}
        running |= {info["name"]: info["pid"] for info in self.supervisor.supervisor.getAllProcessInfo() if info["pid"]}
        self.started |= {pid: name for name, pid in running.items()}
        return running

    def kill_and_wait_for_restart(self, name: str) -> None:
        killed = self.pids()[name]
        os.kill(killed, signal.SIGKILL)

        def restarted() -> bool:
            info = self.supervisor.supervisor.getProcessInfo(f"{GROUPS[name]}:{name}")
            return info["statename"] == "RUNNING" and info["pid"] != killed

        eventually(restarted, timeout=120, what=f"{name} to run again")
        self.pids()

    def stop(self, signum: signal.Signals) -> str:
        """Sends `signum` to `make run`; returns its output once it and all it started are gone."""
        self.pids()
        self.process.send_signal(signum)
        self.process.wait(timeout=90)
        eventually(lambda: not any(map(alive, self.started)), timeout=30, what="every process to be gone")
        self._reader.join(timeout=10)
        return self.output

    def kill_leftovers(self) -> None:
        """After a failed test: whatever this run started and is still there, by PID, `make run`
        and supervisord first (supervisord would start again what it runs)."""
        for pid in self.started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def control(config_path: Path) -> ServerProxy:
    """supervisord's XML-RPC interface, with what `supervisorctl -c <config>` reads."""
    config = configparser.RawConfigParser()
    config.read(config_path)
    ctl = config["supervisorctl"]
    return ServerProxy("http://127.0.0.1", SupervisorTransport(ctl["username"], ctl["password"], ctl["serverurl"]))


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (one whose parent is gone may stay one)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@contextlib.contextmanager
def make_run(data_dir: Path) -> Iterator[MakeRun]:
    run = MakeRun(data_dir)
    try:
        run.wait_until_ready()
        yield run
    finally:
        run.kill_leftovers()


def test_run_starts_everything_ctrl_c_or_sigterm_stops_it_and_data_survives(tmp_path: Path) -> None:
    with make_run(tmp_path) as run, run.client() as api:
        assert re.search(r"API docs:\s+http://127\.0\.0\.1:\d+/docs", run.output)
        assert re.search(r"web UI:\s+http://127\.0\.0\.1:\d+/ ", run.output)
        assert api.post("/videos/", json={"camera_group": 1, "name": "kept"}).status_code == 201
        output = run.stop(signal.SIGINT)
    assert run.process.returncode == 0
    for name in (*SERVERS, *SERVICES):
        assert f"spawned: '{name}'" in output
        assert f"stopped: {name} " in output, f"{name} did not stop:\n{output}"
    assert re.search(r"^gateway +\| .*Application startup complete", output, re.MULTILINE), "prefixed service logs"
    assert "Starting nats-server" in (tmp_path / "logs" / "nats.log").read_text(), "the servers log to files"

    with make_run(tmp_path) as run, run.client() as api:
        assert [video["name"] for video in api.get("/videos/").json()["results"]] == ["kept"]
        output = run.stop(signal.SIGTERM)
    assert run.process.returncode == 0
    assert "stopped: mongo " in output


# Bodies in the first 20 s of vtest.avi (pedestrians): seconds to process at full speed. The run
# that is killed goes at a fraction of real time, without dropping a frame (so it sees what the
# clean run saw), so that it outlasts the six kills after the detector's about twice over.
CLIP_SECONDS = 20
CLIP_FRAMES = 200
BODY = {"detectors": {"face": None, "body": {"filter_min_size": 20, "filter_track_min_duration_frames": 10}}}
PACED = {"play_speed": 0.3, "disable_drops": True}
KILL_DETECTOR_AFTER = 20  # frames


def first_seconds(video: Path, seconds: float, clip: Path) -> Path:
    """The start of a video, its packets copied as they are (it starts on a key frame)."""
    with av.open(str(video)) as source, av.open(str(clip), "w") as target:
        stream = source.streams.video[0]
        copy = target.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is None:
                continue  # the demuxer's empty packet at the end
            if packet.pts * stream.time_base >= seconds:
                break
            packet.stream = copy
            target.mux(packet)
    return clip


def processed(api: httpx.Client, video_id: int) -> dict:
    done = wait_for(api, video_id, "COMPLETED", "FAILED", timeout=600)
    assert done["health_status"]["status"] == "COMPLETED", done["error"]
    assert done["health_status"]["statistic"]["frames_processed"] == CLIP_FRAMES
    return done


Sighting = tuple[str, str, int, tuple[float, ...]]


def body_sightings(api: httpx.Client, video: dict) -> list[Sighting]:
    """Each stored body event's track, post, frame and box (to a hundredth of a pixel), once as
    many are stored as the run posted (storage writes them meanwhile)."""
    posted = video["health_status"]["statistic"]["objects"]["body"]["posted"]
    params = {"video_archive": video["id"], "limit": 1000}

    def stored() -> list[dict] | None:
        events = api.get("/events/bodies/", params=params).json()["results"]
        return events if len(events) >= posted else None

    events = eventually(stored, what="the posted events to be stored")
    assert len(events) == posted > 5
    return sorted((e["track"], e["post"], e["frame"], tuple(round(v, 2) for v in e["bbox"])) for e in events)


def body_clusters(api: httpx.Client, video: dict) -> int:
    """How many body clusters the run has once they are recorded, checked against its events: each
    of them is in one, and the archive says its clustering is done. Clustering waits for an event
    from storage, never for a timeout, so a server killed mid-run only delays it."""
    video_id = video["id"]

    def recorded() -> dict | None:
        archive = api.get(f"/videos/{video_id}/").json()
        return archive if archive["body_cluster_count"] is not None else None

    archive = eventually(recorded, timeout=120, what="the body clusters")
    posted = video["health_status"]["statistic"]["objects"]["body"]["posted"]
    assert archive["health_status"]["statistic"]["clustering"] == {"body": {"detections": posted, "state": "DONE"}}
    events = api.get("/events/bodies/", params={"video_archive": video_id, "limit": 1000}).json()["results"]
    assert all(event["cluster"] is not None for event in events)
    listed = api.get("/clusters/bodies/count/", params={"video_archive": video_id}).json()["count"]
    assert listed == archive["body_cluster_count"] > 0
    return listed


def progress(api: httpx.Client, video_id: int) -> dict:
    return api.get(f"/videos/{video_id}/").json()["health_status"]


@pytest.mark.timeout(600)
def test_a_process_killed_mid_run_is_started_again_and_the_video_completes_with_the_same_events_and_clusters(
    tmp_path: Path, videos: Path
) -> None:
    clip = first_seconds(videos / "vtest.avi", CLIP_SECONDS, tmp_path / "clip.avi")
    with make_run(tmp_path / "data") as run, run.client() as api:
        clean_id = ready_archive(api, clip, **BODY)
        api.post(f"/videos/{clean_id}/process/")
        clean_run = processed(api, clean_id)
        clean = body_sightings(api, clean_run)
        body_clusters(api, clean_run)

        video_id = ready_archive(api, clip, **BODY, **PACED)
        api.post(f"/videos/{video_id}/process/")
        # Killed with walkers in view, the detector's job resumes from its last checkpoint once
        # the scheduler misses its heartbeat (VIDAR_HEARTBEAT_TIMEOUT, 30 s).
        wait_for_frames(api, video_id, KILL_DETECTOR_AFTER)
        run.kill_and_wait_for_restart("detector")
        killed_at = progress(api, video_id)["statistic"]["frames_processed"]

        def resumed() -> bool:
            statistic = progress(api, video_id)["statistic"]
            return statistic["job_starts"] == 2 and statistic["frames_processed"] > killed_at

        eventually(resumed, timeout=120, what="the job to resume on the restarted detector")
        for name in ("nats", "mongo", "s3", "gateway", "storage", "scheduler"):
            assert progress(api, video_id)["status"] == "INPROGRESS", f"done before {name} was killed: slow it down"
            run.kill_and_wait_for_restart(name)
        done = processed(api, video_id)
        sightings = body_sightings(api, done)
        body_clusters(api, done)
        pids = run.pids()
        os.kill(run.process.pid, signal.SIGKILL)
        run.process.wait(timeout=10)
        eventually(lambda: not any(map(alive, pids.values())), timeout=60, what="supervisord and all it runs to stop")
    assert done["health_status"]["statistic"]["job_starts"] == 2, "only the detector's kill restarted the job"
    assert sightings == clean, "a resumed run posts the tracks of a clean run, track for track"
    for name in (*SERVERS, *SERVICES):
        assert run.output.count(f"exited: {name} (terminated by SIGKILL; not expected)") == 1
        assert run.output.count(f"exited: {name} ") == 1, f"{name} died once: when it was killed"
        assert run.output.count(f"spawned: '{name}'") == 2


def test_a_process_that_dies_as_it_starts_is_retried_ever_later_and_the_others_keep_running(tmp_path: Path) -> None:
    supervision = Supervision(tmp_path)
    steady = Program("steady", ["sleep", "600"])
    failing = Program("failing", ["sh", "-c", "echo cannot start; exit 3"])
    config = supervision.write_config(servers=[steady], services=[failing])
    command = [sys.executable, "-m", "supervisor.supervisord", "--configuration", str(config)]
    supervisord = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        eventually(supervision.socket_path.exists, what="supervisord to listen")
        supervisor = control(config).supervisor
        steady_pid = eventually(lambda: supervisor.getProcessInfo(f"{SERVERS_GROUP}:steady")["pid"])
        eventually(lambda: (tmp_path / "logs" / "supervisord.log").read_text().count("spawned: 'failing'") >= 4)
        assert supervisor.getProcessInfo(f"{SERVICES_GROUP}:failing")["statename"] in {"BACKOFF", "STARTING"}
        assert supervisor.getProcessInfo(f"{SERVERS_GROUP}:steady")["pid"] == steady_pid
    finally:
        supervisord.terminate()
        output, _ = supervisord.communicate(timeout=60)
    log = (tmp_path / "logs" / "supervisord.log").read_text()
    tries = [when(line) for line in log.splitlines() if "spawned: 'failing'" in line]
    # supervisord waits a second longer after each failed try: 1 s, 2 s, 3 s ...
    for failures, (earlier, later) in enumerate(itertools.pairwise(tries), start=1):
        assert (later - earlier).total_seconds() > failures
    assert "failing | cannot start" in output
    assert "stopped: steady" in output


def when(log_line: str) -> datetime:
    return datetime.strptime(log_line[:23], "%Y-%m-%d %H:%M:%S,%f")


def test_line_prefixer_waits_for_the_end_of_a_line() -> None:
    prefixer = LinePrefixer(width=9)
    assert prefixer.lines("gateway", "one\ntw") == "gateway   | one\n"
    assert prefixer.lines("storage", "three\n") == "storage   | three\n"
    assert prefixer.lines("gateway", "o\n") == "gateway   | two\n"
