"""The collaborators of one job, built in one place from its `RunContext`: the router delivery,
the attribute networks, the detection handler with its poster, and the reporter of checkpoints.
They publish through the `Publish` they are given and never call back into the worker."""

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import BaseModel

from vidar import subjects
from vidar.models.jobs import Checkpoint, DetectionPosted, JobProgress
from vidar.models.stream_settings import DetectorType
from vidar.objectstore import ObjectStore
from vidar.urlguard import Allowlist
from vidar_detector import appearance, faces
from vidar_detector.appearance import AppearanceEmbedder
from vidar_detector.attributes.describe import Describer, describer
from vidar_detector.detection import DetectionHandler
from vidar_detector.detectors import set_model_threads
from vidar_detector.job import Report
from vidar_detector.lanes import load_lanes
from vidar_detector.publishing import Images, Publish
from vidar_detector.router import RouterDelivery
from vidar_detector.run_context import RunContext
from vidar_detector.settings import DetectorSettings

log = logging.getLogger(__name__)

# One event into the events stream: subject, payload, message id.
PublishEvent = Callable[[str, BaseModel, str], Coroutine[Any, Any, None]]

# Tracking states kept per attempt: the scheduler records checkpoints in order, a little behind.
KEPT_TRACKING_STATES = 3


@dataclass(frozen=True, slots=True)
class Collaborators:
    """What runs one job besides the job loop; `handler` is None for a run that detects nothing."""

    router: RouterDelivery | None
    describe: Describer | None
    handler: DetectionHandler | None
    report: Report


async def assemble(
    run: RunContext, settings: DetectorSettings, objects: ObjectStore, publish: PublishEvent
) -> Collaborators:
    """Raises `ModelLoadError` if a detector model the run needs cannot load."""
    router = router_for(run, settings)
    describe = await describer_for(run, settings)
    handler = await detection_for(run, settings, poster(run, objects, publish, router), router, describe)
    return Collaborators(router, describe, handler, reporter(run, objects, publish))


def router_for(run: RunContext, settings: DetectorSettings) -> RouterDelivery | None:
    if not run.router_url:
        return None
    return RouterDelivery(
        run.router_url,
        timeout_ms=run.stream_settings.router_timeout_ms,
        verify_ssl=run.stream_settings.router_verify_ssl,
        allowlist=Allowlist.parse(settings.url_allowlist),
    )


async def describer_for(run: RunContext, settings: DetectorSettings) -> Describer | None:
    """The attribute networks, for a run that detects anything with attributes on; those that
    cannot load are logged now, and are the run's error at its end (its posts go on without
    their attributes)."""
    if not run.kinds:
        return None
    describe = await asyncio.to_thread(describer, settings)
    if describe and describe.problem:
        log.warning("run %s: %s", run.run_id, describe.problem)
    return describe


async def detection_for(
    run: RunContext,
    settings: DetectorSettings,
    post: Publish,
    router: RouterDelivery | None,
    describe: Describer | None,
) -> DetectionHandler | None:
    """The detectors the run asks for (loaded once per process), or None if it asks for none."""
    if not (kinds := set(run.kinds)):
        return None
    detectors = run.stream_settings.detectors
    deep_sort = any(getattr(detectors, kind).tracker_type == "deep_sort" for kind in kinds)
    models = await asyncio.to_thread(load_lanes, settings, kinds)
    embedder = await asyncio.to_thread(load_embedders, settings, kinds, deep_sort)
    set_model_threads(settings.lane_threads)
    return DetectionHandler(
        run,
        models,
        run.attempt,
        post,
        detection_rate=settings.detection_rate,
        appearance=embedder.embed if embedder and deep_sort else None,
        features=partial(appearance.embed_object, embedder),
        face_chip=faces.face_chip,
        describe=describe,
        deliveries=router,
    )


def load_embedders(settings: DetectorSettings, kinds: set[DetectorType], deep_sort: bool) -> AppearanceEmbedder | None:
    """Load now what posting will need, so a missing model fails the run before it starts: the
    appearance embedder, if bodies or cars are posted or tracked by appearance."""
    if "face" in kinds:
        faces.face_embedder()
    if deep_sort or kinds - {"face"}:
        return appearance.appearance_embedder(settings.appearance_model.resolve())
    return None


def poster(run: RunContext, objects: ObjectStore, publish: PublishEvent, router: RouterDelivery | None) -> Publish:
    loop = asyncio.get_running_loop()

    def post(detection: DetectionPosted, images: Images) -> None:
        """Called in the job thread: the images first, then the event that points at them."""
        name = f"{detection.kind}-{detection.track_id}-{detection.post}-{detection.sequence}"
        thumbnail_key = run.image_key(f"{name}.jpg")
        extension, media_type = ("png", "image/png") if images.full_frame_type == "PNG" else ("jpg", "image/jpeg")
        frame_key = run.image_key(f"{name}-frame.{extension}")
        objects.write(thumbnail_key, images.thumbnail, "image/jpeg")
        objects.write(frame_key, images.full_frame, media_type)
        posted = detection.model_copy(update={"thumbnail_key": thumbnail_key, "full_frame_key": frame_key})
        subject = subjects.detection(detection.kind)
        sent = asyncio.run_coroutine_threadsafe(publish(subject, posted, posted.event_id), loop)
        sent.result(timeout=30)
        if router is not None:
            router.submit(posted, images)

    return post


def reporter(run: RunContext, objects: ObjectStore, publish: PublishEvent) -> Report:
    loop = asyncio.get_running_loop()
    sent: list[Future] = []
    sequence = iter(range(1, 1 << 62))
    states: deque[str] = deque()

    def keep_state(snapshot: bytes, number: int) -> str | None:
        """Store a tracking state (in the job thread, between frames); drop the oldest. None
        if it cannot be stored: the checkpoint goes without, as a resume can."""
        key = run.tracking_state_key(f"{run.attempt}-{number}")
        try:
            objects.write(key, snapshot, "application/octet-stream")
        except Exception as failure:  # S3 down: the run goes on, its posts fail and count so
            log.warning("run %s: tracking state not stored (%s)", run.run_id, failure)
            return None
        states.append(key)
        while len(states) > KEPT_TRACKING_STATES:
            asyncio.run_coroutine_threadsafe(objects.remove(states.popleft()), loop)
        return key

    def report(checkpoint: Checkpoint, snapshot: Callable[[], bytes | None]) -> None:
        """Called in the job thread: publish without waiting, skip if the last is still going."""
        if sent and not sent[-1].done():
            return
        number = next(sequence)
        if (state := snapshot()) is not None:
            checkpoint = checkpoint.model_copy(update={"tracking_state_key": keep_state(state, number)})
        progress = JobProgress(run_id=run.run_id, video_id=run.video_id, attempt=run.attempt, checkpoint=checkpoint)
        message_id = f"{run.run_id}-{run.attempt}-progress-{number}"
        sent[:] = [asyncio.run_coroutine_threadsafe(publish(subjects.JOB_PROGRESS, progress, message_id), loop)]

    return report
