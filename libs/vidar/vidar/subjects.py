"""NATS subjects: the public names of vidar's events. The subject is also the envelope `type`."""

VIDEO_CREATED = "video.created"
VIDEO_UPDATED = "video.updated"
VIDEO_DELETED = "video.deleted"
VIDEO_UPLOADED = "video.uploaded"
VIDEO_FILE_DELETED = "video.file.deleted"
VIDEO_PROBED = "video.probed"

# Core NATS request-reply (not in a stream): the gateway asks, one storage replica answers.
SCREENSHOT_REQUEST = "storage.screenshot"
