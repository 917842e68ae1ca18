"""router_url delivery against real HTTP servers on loopback: every object arrives once, a failing
router is retried, a dead, slow or refused one is counted as failed, and the job thread never
waits for it."""

import asyncio
import base64
import io
import threading

import pytest
from PIL import Image

from tests.detector.receiver import receiver
from vidar.devstack.servers import free_port
from vidar.models.jobs import DetectionPosted
from vidar.urlguard import Allowlist
from vidar_detector import router as router_module
from vidar_detector.publishing import Images
from vidar_detector.router import RouterDelivery

LOOPBACK = Allowlist.parse(["127.0.0.1"])


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="JPEG")
    return buffer.getvalue()


IMAGES = Images(thumbnail=jpeg(), full_frame=jpeg(), full_frame_type="JPEG")


def detection(track: int) -> DetectionPosted:
    return DetectionPosted(
        video_id=1,
        camera_group=1,
        run_id="run",
        kind="face",
        track_id=f"1-{track}",
        post="best",
        bbox=(1, 2, 3, 4),
        frame=0,
        stream_time=0.0,
        timestamp=0.0,
        quality=0.9,
        embedding=[0.5] * 4,
    )


async def deliver(url: str, count: int, allowlist: Allowlist = LOOPBACK, timeout_ms: int = 2000) -> list:
    delivery = RouterDelivery(url, timeout_ms=timeout_ms, verify_ssl=True, allowlist=allowlist)
    async with delivery.running():
        await asyncio.to_thread(lambda: [delivery.submit(detection(track), IMAGES) for track in range(count)])
    return delivery.outcomes()


async def test_every_object_arrives_with_its_event_and_images() -> None:
    with receiver() as router:
        outcomes = await deliver(router.url, 3)
    assert outcomes == [("face", True)] * 3
    assert sorted(body["event_id"] for body in router.received) == [detection(t).event_id for t in range(3)]
    body = router.received[0]
    assert "embedding" not in body["event"]
    assert body["thumbnail"]["content_type"] == "image/jpeg"
    assert Image.open(io.BytesIO(base64.b64decode(body["thumbnail"]["data"]))).format == "JPEG"


async def test_the_job_thread_never_waits_for_the_router() -> None:
    hold = threading.Event()
    with receiver(hold=hold) as router:
        delivery = RouterDelivery(router.url, timeout_ms=5000, verify_ssl=True, allowlist=LOOPBACK)
        async with delivery.running():
            # Were submit to wait for an answer, this would never return: the router holds every
            # request until the submits are done.
            await asyncio.to_thread(lambda: [delivery.submit(detection(track), IMAGES) for track in range(3)])
            hold.set()
    assert delivery.outcomes() == [("face", True)] * 3


async def test_a_failing_router_is_retried() -> None:
    with receiver(failures=[503, 500]) as router:
        outcomes = await deliver(router.url, 1, timeout_ms=200)
    assert outcomes == [("face", True)]
    assert router.requests == 3


async def test_a_refusing_router_is_not_retried_and_counts_as_failed() -> None:
    with receiver(failures=[400]) as router:
        outcomes = await deliver(router.url, 1)
    assert outcomes == [("face", False)]
    assert router.requests == 1


async def test_a_dead_router_counts_as_failed() -> None:
    outcomes = await deliver(f"http://127.0.0.1:{free_port()}/", 2, timeout_ms=200)
    assert outcomes == [("face", False)] * 2


async def test_a_slow_router_times_out_and_counts_as_failed() -> None:
    with receiver(delay=1.0) as router:
        outcomes = await deliver(router.url, 1, timeout_ms=100)
    assert outcomes == [("face", False)]


async def test_a_loopback_router_is_refused_unless_allowlisted() -> None:
    with receiver() as router:
        outcomes = await deliver(router.url, 1, allowlist=Allowlist.parse([]))
    assert outcomes == [("face", False)]
    assert router.requests == 0, "refused before connecting"


async def test_objects_beyond_the_queue_fail_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router_module, "MAX_PENDING", 2)
    with receiver(delay=0.2) as router:
        outcomes = await deliver(router.url, 5)
    assert sorted(outcomes) == [("face", False)] * 3 + [("face", True)] * 2
