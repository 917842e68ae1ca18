"""NATS subjects: the public names of vidar's events. The subject is also the envelope `type`."""

VIDEO_CREATED = "video.created"
VIDEO_UPDATED = "video.updated"
VIDEO_DELETED = "video.deleted"
VIDEO_UPLOADED = "video.uploaded"
VIDEO_FILE_DELETED = "video.file.deleted"
VIDEO_PROBED = "video.probed"
# A url source that could not be fetched, and how far a fetch has come (at most one a second).
VIDEO_FETCH_FAILED = "video.fetch.failed"
VIDEO_FETCH_PROGRESS = "video.fetch.progress"
# A run's clustering, one step an event: the detector says how many objects of each kind the run
# posted (its tracks are final), storage says when it has recorded all of one kind, and the
# detector groups them into clusters.
VIDEO_DETECTIONS_POSTED = "video.detections.posted"
VIDEO_DETECTIONS_STORED = "video.detections.stored"
VIDEO_CLUSTERED = "video.clustered"

# Core NATS request-reply (not in a stream): the gateway asks, one storage replica answers.
SCREENSHOT_REQUEST = "storage.screenshot"
# The same for POST /detect/: one detector replica finds and embeds the objects of an image.
DETECT_REQUEST = "detector.detect"
# The gateway asks storage, the one writer of an archive's source pointer, to point it at a file
# the gateway has uploaded, or at none; one storage replica answers once the change has committed.
SOURCE_COMMIT_REQUEST = "storage.source.commit"
SOURCE_REMOVE_REQUEST = "storage.source.remove"
# Storage's own work after it changed an archive's source (not an event: no other service hears
# it): remove the replaced file, probe the new one. Staged with the change, so a crash loses none.
SOURCE_JOB = "storage.job.source"

VIDEO_PROCESS_REQUESTED = "video.process.requested"
VIDEO_STOP_REQUESTED = "video.stop.requested"
# One per status change, for outside consumers: video.processing.queued, ....inprogress, ...
VIDEO_PROCESSING = "video.processing.{status}"

# Work for the detectors: a work-queue stream, each job taken by one detector.
JOB_DISPATCH = "job.dispatch"
# What a detector reports about the job it runs.
JOB_STARTED = "job.started"
JOB_PROGRESS = "job.progress"
JOB_FINISHED = "job.finished"
JOB_FAILED = "job.failed"
JOB_STOPPED = "job.stopped"
JOB_REPORTS = (JOB_STARTED, JOB_PROGRESS, JOB_FINISHED, JOB_FAILED, JOB_STOPPED)
# The scheduler to the detector running a run: stop it (one subject a run, so a detector hears
# only its own, even the stops sent before it started).
JOB_STOP = "job.stop.{run_id}"
JOB_STOPS = "job.stop.>"


def job_stop(run_id: str) -> str:
    return JOB_STOP.format(run_id=run_id)


def video_processing(status: str) -> str:
    return VIDEO_PROCESSING.format(status=status.lower())


# One per posted object: detection.face, detection.body, detection.car.
DETECTION = "detection.{kind}"
DETECTIONS = "detection.>"


def detection(kind: str) -> str:
    return DETECTION.format(kind=kind)


# A posted object matched with a record on a watch list (the gateway's matching): match.face,
# match.body, match.car. Outside `detection.>`, whose consumers take every message as a posted object.
MATCH = "match.{kind}"
MATCHES = "match.>"


def match(kind: str) -> str:
    return MATCH.format(kind=kind)


# A matched event acknowledged (the gateway, once storage has recorded it): acknowledgement.face,
# acknowledgement.body, acknowledgement.car. Outside `match.>`, whose consumers take every message
# as a match.
ACKNOWLEDGEMENT = "acknowledgement.{kind}"
ACKNOWLEDGEMENTS = "acknowledgement.>"


def acknowledgement(kind: str) -> str:
    return ACKNOWLEDGEMENT.format(kind=kind)


# Core NATS request-reply (not in a stream): the gateway asks storage, the one writer of the
# detection events, to record that a matched event was acknowledged; one storage replica answers.
ACKNOWLEDGE_REQUEST = "storage.event.acknowledge"
