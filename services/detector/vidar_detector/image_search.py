"""POST /detect/'s compute: the faces, bodies and cars of one uploaded image, each with the
embedding `looks_like` compares and its features (age, colours, plate) (the same models, embeddings
and attributes as a video's posted objects; an attribute network that cannot load leaves its
attributes null, and is logged), for the gateway over NATS request-reply. Any replica answers (a
queue group); jobs go on meanwhile."""

import asyncio
import logging
import threading

import cv2
import numpy as np
from faststream.nats import NatsBroker

from vidar import archive, subjects
from vidar.models.search import DetectedObject, DetectReply, DetectRequest
from vidar.models.stream_settings import DetectorType
from vidar.objectstore import ObjectStore
from vidar_detector.appearance import appearance_embedder, embed_object
from vidar_detector.attributes.describe import describer
from vidar_detector.detections import Detections
from vidar_detector.detectors import ModelLoadError, ObjectDetector, load_detectors, merged_by_kind
from vidar_detector.settings import DetectorSettings

log = logging.getLogger(__name__)


class ImageSearch:
    def __init__(self, settings: DetectorSettings, objects: ObjectStore) -> None:
        self._settings = settings
        self._objects = objects
        # One image at a time: the models keep their buffers in themselves.
        self._lock = threading.Lock()

    async def detect(self, request: DetectRequest) -> DetectReply:
        # Whoever can publish on the bus must not make the detector read an archive's objects.
        if not archive.is_under(request.image_key, archive.DETECT_UPLOADS):
            log.warning("POST /detect/: image key %r refused: not under %s", request.image_key, archive.DETECT_UPLOADS)
            return DetectReply(error="the image key is not an upload of POST /detect/")
        image = await self._objects.get_bytes(request.image_key)
        if image is None:
            return DetectReply(error="the image was not found in object storage")
        try:
            return await asyncio.to_thread(self._detect, image, set(request.kinds))
        except ModelLoadError as error:
            log.exception("POST /detect/: the models could not be loaded")
            return DetectReply(failure=str(error))

    def _detect(self, data: bytes, kinds: set[DetectorType]) -> DetectReply:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            return DetectReply(error="not an image the detector can decode")
        image = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
        with self._lock:
            found = Detections.of(
                item for model in self._models(kinds) for item in model.detect(image) if item.kind in kinds
            )
            appearance = appearance_embedder(self._settings.appearance_model) if kinds - {"face"} else None
            describe = describer(self._settings)
            if describe and describe.problem:
                # The objects are found and described all the same, less what these networks tell.
                log.warning("POST /detect/: %s", describe.problem)
            return DetectReply(
                objects=[
                    DetectedObject(
                        kind=item.kind,
                        bbox=item.box,
                        quality=item.score,
                        embedding=embed_object(appearance, item.kind, image, item.box),
                        features=describe(item.kind, image, item.box) if describe else None,
                    )
                    for item in merged_by_kind(found)
                ]
            )

    def _models(self, kinds: set[DetectorType]) -> list[ObjectDetector]:
        """Each model once (bodies and cars may share one), loaded once per process: a lane of its
        own, past the jobs' lanes, so no job's models are shared with this thread."""
        detectors = load_detectors(self._settings, kinds, lane=self._settings.model_lanes)
        return list({id(model): model for model in detectors.values()}.values())


def serve_image_search(broker: NatsBroker, settings: DetectorSettings, objects: ObjectStore) -> None:
    search = ImageSearch(settings, objects)

    @broker.subscriber(
        subjects.DETECT_REQUEST, queue="detectors", title="detector-detect", description="find objects in an image"
    )
    async def detect(request: DetectRequest) -> DetectReply:
        # The gateway waits for a reply: a failure is one too, never silence until its timeout.
        try:
            return await search.detect(request)
        except Exception as error:
            log.exception("POST /detect/: the image could not be searched")
            return DetectReply(failure=f"{type(error).__name__}: {error}")
