"""Watch lists, records (FindFace's cards) and their objects: one router with its lifespan."""

from fastapi import APIRouter

from vidar_gateway.records.cards.router import router as cards_router
from vidar_gateway.records.deps import records_lifespan
from vidar_gateway.records.matched import router as alerts_router
from vidar_gateway.records.objects.router import router as objects_router
from vidar_gateway.records.watch_lists.router import router as watch_lists_router

router = APIRouter(lifespan=records_lifespan)
router.include_router(watch_lists_router)
router.include_router(cards_router)
router.include_router(objects_router)
router.include_router(alerts_router)
