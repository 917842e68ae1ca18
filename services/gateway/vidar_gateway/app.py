"""The gateway's ASGI application."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_fastapi_instrumentator import Instrumentator

from vidar_gateway import allow, errors, health
from vidar_gateway.camera_groups.router import router as camera_groups_router
from vidar_gateway.clusters.router import router as clusters_router
from vidar_gateway.events.images import router as event_images_router
from vidar_gateway.events.router import router as events_router
from vidar_gateway.records import router as records_router
from vidar_gateway.records.webhooks import router as webhooks_router
from vidar_gateway.runtime import running
from vidar_gateway.search.detect import router as search_router
from vidar_gateway.settings import GatewaySettings
from vidar_gateway.ui import router as ui
from vidar_gateway.videos.files import router as video_files_router
from vidar_gateway.videos.router import router as videos_router
from vidar_gateway.videos.source_stream import router as video_source_router

DESCRIPTION = """The FindFace Multi "Videos" API: video archives, their processing and results
(detection events and their clusters).

Every endpoint but `/healthz`, `/readyz` and the docs needs `Authorization: Token <token>`.
Errors are `{"code", "desc", "param"}`."""


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings) as runtime:
            app.state.runtime = runtime
            yield

    # /docs and /redoc with their assets served by the gateway: a self-hosted system often has no
    # way out to a CDN.
    app = FastAPIOffline(title="vidar", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    errors.install(app)
    allow.install(app)
    app.include_router(health.router)
    app.include_router(videos_router)
    app.include_router(video_files_router)
    app.include_router(video_source_router)
    app.include_router(camera_groups_router)
    app.include_router(events_router)
    app.include_router(event_images_router)
    app.include_router(clusters_router)
    app.include_router(search_router)
    app.include_router(records_router)
    app.include_router(webhooks_router)
    app.include_router(ui.router)
    app.mount(ui.ASSETS_PATH, ui.assets(), name="ui")
    # Request latency and counts per route, on /metrics (no token, like the probes).
    Instrumentator().instrument(app).expose(app, include_in_schema=False)
    return app
