"""NATS subjects: the public names of vidar's events. The subject is also the envelope `type`."""

VIDEO_CREATED = "video.created"
VIDEO_UPDATED = "video.updated"
VIDEO_DELETED = "video.deleted"
