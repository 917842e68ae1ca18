"""Webhooks in MongoDB, written by the gateway alone. The secret is kept to sign the deliveries
and never read back through the API; the URL passes the SSRF guard when it is written."""

import secrets
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from vidar.indexes import WEBHOOKS
from vidar.models.stream_settings import DetectorType
from vidar.models.webhooks import WebhookCreate, WebhookPatch
from vidar.mongo import next_id, updated
from vidar.urlguard import Allowlist, UrlRefused, check
from vidar_gateway.errors import ApiError, not_found
from vidar_gateway.pagination import Ordering, Page, paginate
from vidar_gateway.records.listing import ORDER_FIELDS, RecordPageParams, countable, stored_now
from vidar_gateway.records.watch_lists.store import WatchListStore

# Bytes of a generated secret (64 hex digits).
SECRET_BYTES = 32


class WebhookStore:
    def __init__(self, db: AsyncDatabase, watch_lists: WatchListStore, allowlist: Allowlist) -> None:
        self._db = db
        self._webhooks = db[WEBHOOKS]
        self._watch_lists = watch_lists
        self._allowlist = allowlist

    async def page(self, query: RecordPageParams) -> Page:
        ordering = Ordering.parse(query.ordering, ORDER_FIELDS, int)
        return await paginate(self._webhooks, {}, ordering, query.limit, query.page)

    async def count(self) -> int:
        return await self._webhooks.count_documents(countable({}))

    async def get(self, webhook_id: int) -> dict:
        doc = await self._webhooks.find_one({"_id": webhook_id})
        if doc is None:
            raise not_found("webhook", webhook_id)
        return doc

    async def create(self, data: WebhookCreate) -> dict:
        await self._check(data.url, data.watch_lists)
        now = stored_now()
        doc = {
            "_id": await next_id(self._db, WEBHOOKS),
            **data.model_dump(),
            "secret": data.secret or secrets.token_hex(SECRET_BYTES),
            "created_date": now,
            "modified_date": now,
        }
        await self._webhooks.insert_one(doc)
        return doc

    async def patch(self, webhook_id: int, data: WebhookPatch) -> dict:
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        await self._check(changes.get("url"), changes.get("watch_lists", []))
        changes["modified_date"] = stored_now()
        doc = await updated(self._webhooks, {"_id": webhook_id}, {"$set": changes})
        if doc is None:
            raise not_found("webhook", webhook_id)
        return doc

    async def delete(self, webhook_id: int) -> None:
        if (await self._webhooks.delete_one({"_id": webhook_id})).deleted_count == 0:
            raise not_found("webhook", webhook_id)

    async def for_match(self, kind: DetectorType, watch_lists: list[int]) -> list[dict]:
        """The active webhooks whose filters a match of `kind` on `watch_lists` passes. They are few:
        read by their index, filtered here (a top-level $or turns the embedded server's planner off)."""
        active = await self._webhooks.find({"active": True, "_id": {"$gte": 1}}).to_list(None)
        return [
            webhook
            for webhook in active
            if (not webhook["kinds"] or kind in webhook["kinds"])
            and (not webhook["watch_lists"] or set(watch_lists) & set(webhook["watch_lists"]))
        ]

    async def delivered(self, webhook_id: int) -> None:
        await self._webhooks.update_one({"_id": webhook_id}, {"$set": {"last_delivered_date": stored_now()}})

    async def failed(self, webhook_id: int, error: str) -> None:
        await self._webhooks.update_one(
            {"_id": webhook_id}, {"$set": {"last_error": error, "last_error_date": stored_now()}}
        )

    async def _check(self, url: str | None, watch_lists: list[int]) -> None:
        if url is not None:
            try:
                await check(url, self._allowlist)
            except UrlRefused as refused:
                raise ApiError(400, f"url: {refused}", param="url") from None
        if missing := await self._watch_lists.missing(watch_lists):
            raise ApiError(400, f"watch_lists: no watch list {', '.join(map(str, missing))}", param="watch_lists")
