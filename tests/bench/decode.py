"""Decode-only throughput: the detector's job loop (no detectors) vs. PyAV in a bare loop.

Run by `make bench`. The job loop reads the source from S3 (ranged streaming reads), decodes in
its own thread and does all its per-frame bookkeeping; the goal is at least 0.9 of the bare
loop, which reads a local file.
"""

import asyncio
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from pydantic import SecretStr

from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, servers
from vidar.devstack.servers import HOST
from vidar.models.jobs import JobDispatch, SourceFile
from vidar.models.stream_settings import StreamSettings
from vidar.objectstore import ObjectStore
from vidar.settings import VidarSettings
from vidar_detector.job import Job

VIDEOS = Path(".cache/videos")
CLIP_720P = VIDEOS / "vtest-720p25.mp4"
CLIP_SIZE = (1280, 720)
CLIP_FPS = 25


def make_720p_clip() -> Path:
    """vtest.avi scaled to 1280x720 and re-timed to 25 fps, each source frame repeated 2 or 3
    times in turn (10 fps -> 25 fps at real speed), encoded with libx264 (cached)."""
    if CLIP_720P.exists():
        return CLIP_720P
    partial = CLIP_720P.with_suffix(".partial.mp4")
    with av.open(str(VIDEOS / "vtest.avi")) as source, av.open(str(partial), "w") as clip:
        source_fps = source.streams.video[0].average_rate
        stream = clip.add_stream("libx264", rate=CLIP_FPS, options={"preset": "veryfast", "crf": "23", "g": "50"})
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        written = 0
        for index, frame in enumerate(source.decode(video=0)):
            scaled = frame.reformat(width=CLIP_SIZE[0], height=CLIP_SIZE[1], format="yuv420p")
            scaled.time_base = Fraction(1, CLIP_FPS)
            for pts in range(written, int((index + 1) * CLIP_FPS / source_fps)):
                scaled.pts = pts
                clip.mux(stream.encode(scaled))
                written = pts + 1
        clip.mux(stream.encode(None))
    partial.rename(CLIP_720P)
    return CLIP_720P


def bare_loop(path: Path, thread_type: str | None) -> tuple[int, float]:
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if thread_type:
            stream.thread_type = thread_type
        frames = sum(1 for _ in container.decode(stream))
    return frames, time.perf_counter() - started


def job_loop(objects: ObjectStore, path: Path) -> tuple[int, float]:
    key = f"bench/{path.name}"
    asyncio.run(objects.put_bytes(key, path.read_bytes(), "video/mp4"))
    settings = StreamSettings.model_validate({"detectors": {"face": None}})
    dispatch = JobDispatch(
        run_id="bench",
        video_id=0,
        camera_group=1,
        source=SourceFile(key=key, size=path.stat().st_size),
        stream_settings=settings,
    )
    job = Job(dispatch, objects, checkpoint=None, report=lambda *_: None, progress_interval=1.0)
    started = time.perf_counter()
    statistic = job.run()
    return statistic.frames_processed, time.perf_counter() - started


def best_of(runs: int, measure: Callable[[], tuple[int, float]]) -> tuple[int, float]:
    results = [measure() for _ in range(runs)]
    return min(results, key=lambda result: result[1])


def main() -> None:
    clips = [VIDEOS / "vtest.avi", make_720p_clip()]
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp, servers(Path(tmp)) as ports:
        objects = ObjectStore(
            VidarSettings(
                s3_endpoint=f"{HOST}:{ports.s3}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=SecretStr(S3_SECRET_KEY)
            )
        )
        asyncio.run(objects.ensure_bucket())
        print("\nDecode-only throughput, best of 3 (frames/s)")
        print(f"  {'clip':<24}{'bare PyAV':>12}{'bare, threads':>15}{'job loop':>12}{'ratio':>8}")
        for clip in clips:
            frames, bare = best_of(3, lambda clip=clip: bare_loop(clip, None))
            _, threaded = best_of(3, lambda clip=clip: bare_loop(clip, "AUTO"))
            processed, job = best_of(3, lambda clip=clip: job_loop(objects, clip))
            assert processed == frames, f"the job loop saw {processed} of {frames} frames"
            print(
                f"  {clip.name:<24}{frames / bare:>12.0f}{frames / threaded:>15.0f}{frames / job:>12.0f}"
                f"{bare / job:>8.2f}"
            )
    print("  ratio = job loop / bare PyAV (default threading); goal >= 0.9")


if __name__ == "__main__":
    main()
