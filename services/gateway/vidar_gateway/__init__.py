"""vidar gateway: the HTTP API, auth, video documents and their lifecycle events."""
