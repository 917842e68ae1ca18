"""The webhooks' store and deliveries, built once when the gateway starts (a router lifespan,
inside the gateway's own, so its runtime is there), and their route dependencies."""

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from vidar import indexes
from vidar.indexes import WEBHOOKS
from vidar.urlguard import Allowlist
from vidar_gateway.auth import Role
from vidar_gateway.deps import Caller
from vidar_gateway.errors import ApiError
from vidar_gateway.records.watch_lists.store import WatchListStore
from vidar_gateway.records.webhooks.delivery import Deliveries, delivering
from vidar_gateway.records.webhooks.settings import WebhookSettings
from vidar_gateway.records.webhooks.store import WebhookStore


@contextlib.asynccontextmanager
async def webhooks_lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = app.state.runtime
    db = runtime.mongo[runtime.settings.mongo_db]
    await indexes.ensure(db, WEBHOOKS)
    settings = WebhookSettings()
    webhooks = WebhookStore(db, WatchListStore(db), Allowlist.parse(settings.url_allowlist))
    app.state.webhooks = webhooks
    async with delivering(Deliveries(webhooks, runtime.broker.connection.jetstream(), settings)):
        yield


def _webhooks(request: Request) -> WebhookStore:
    return request.app.state.webhooks


async def _admin_writes(request: Request, caller: Caller) -> None:
    """A webhook sends what the cameras see elsewhere: only an admin changes one."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and caller is not Role.ADMIN:
        raise ApiError(403, f"only an admin token can change webhooks, not a {caller} one")


WebhooksRepo = Annotated[WebhookStore, Depends(_webhooks)]
admin_writes = Depends(_admin_writes)
