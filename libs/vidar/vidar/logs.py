"""Structured logs: one JSON object a line (or plain text for local work), carrying the ids of
the archive and the event being handled.

`log_context(video_id=..., event_id=...)` sets the ids for everything logged inside it, in this
task and in what it starts (asyncio tasks and `asyncio.to_thread` copy the context). The ids go
on each record in the handler's filter, so every logger carries them: vidar's, uvicorn's,
FastStream's and the libraries'.
"""

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Literal

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["json", "text"]
CONTEXT_FIELDS = ("video_id", "event_id")
_EMPTY: MappingProxyType[str, int | str] = MappingProxyType({})
_ids: ContextVar[MappingProxyType[str, int | str]] = ContextVar("vidar_log_ids", default=_EMPTY)


@contextlib.contextmanager
def log_context(*, video_id: int | None = None, event_id: str | None = None) -> Iterator[None]:
    """Records logged inside carry the ids given (None: unknown, left out); contexts nest."""
    token = _ids.set(MappingProxyType({**_ids.get(), **_known(video_id=video_id, event_id=event_id)}))
    try:
        yield
    finally:
        _ids.reset(token)


def _known(**ids: int | str | None) -> dict[str, int | str]:
    return {name: value for name, value in ids.items() if value is not None}


class LogContextFilter(logging.Filter):
    """Puts the current `log_context` ids on each record; a record's own `extra` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _ids.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    """`{"time", "level", "logger", "message", ...extra fields}`; time is ISO 8601 in UTC."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="time",
        rename_fields={"levelname": "level", "name": "logger"},
        # uvicorn adds an ANSI-coloured copy of its messages; taskName is new in Python 3.12.
        reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
    )


class TextFormatter(logging.Formatter):
    """`time level logger [video_id=.. event_id=..]: message`, for reading in a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(vidar_ids)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name))
        record.vidar_ids = f" [{ids}]" if ids else ""
        return super().format(record)


def logging_config(log_format: LogFormat) -> dict[str, Any]:
    """A `logging.config.dictConfig` for a service, uvicorn's loggers included (uvicorn applies
    it, in each worker process too): everything propagates to one handler on stderr."""
    formatter = "vidar.logs.json_formatter" if log_format == "json" else "vidar.logs.TextFormatter"
    propagate = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "vidar.logs.LogContextFilter"}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            "uvicorn": {**propagate, "level": "INFO"},
            "uvicorn.error": propagate,
            "uvicorn.access": propagate,
            # FastStream gives its loggers their own handler and stops propagation at import.
            "faststream": propagate,
            # One line per outgoing request (router_url posts, URL fetches) is noise.
            "httpx": {**propagate, "level": "WARNING"},
        },
    }


def ids_of(body: bytes) -> tuple[int | None, str | None]:
    """The archive's id and the event's id of a message on the bus, where it carries them: an
    envelope's `event_id` and its payload's `video_id` (or `video.id` in `video.created` and
    `video.updated`); a bare request such as `storage.screenshot` has a top-level `video_id`."""
    try:
        message = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(message, dict):
        return None, None
    payload = message.get("payload", message)
    payload = payload if isinstance(payload, dict) else {}
    video = payload.get("video")
    video_id = payload.get("video_id", video.get("id") if isinstance(video, dict) else None)
    event_id = message.get("event_id")
    return (
        video_id if isinstance(video_id, int) and not isinstance(video_id, bool) else None,
        event_id if isinstance(event_id, str) else None,
    )


class LogContextMiddleware(BaseMiddleware):
    """Handles each consumed message inside `log_context` with the ids it carries."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        video_id, event_id = ids_of(msg.body)
        # FastStream logs a handler's failure (and "Processed") after this scope has ended, with
        # the `extra` of its own per-message log context: the ids go there too.
        faststream_extra = self.context.get_local("log_context")
        if isinstance(faststream_extra, dict):
            faststream_extra.update(_known(video_id=video_id, event_id=event_id))
        with log_context(video_id=video_id, event_id=event_id):
            return await call_next(msg)
