"""Webhooks: each match posted, signed, to the URLs whose filters it passes; one router with its
lifespan, which runs the deliveries."""

from fastapi import APIRouter

from vidar_gateway.records.webhooks.deps import webhooks_lifespan
from vidar_gateway.records.webhooks.router import router as webhooks_router

router = APIRouter(lifespan=webhooks_lifespan)
router.include_router(webhooks_router)
